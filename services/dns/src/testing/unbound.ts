import { type ChildProcess, execFile, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "@switchyard/testkit";

const run = promisify(execFile);

export interface Unbound {
  port: number;
  stop(): Promise<void>;
}

/**
 * A validating Unbound on a free loopback port: `anchors` (DS or DNSKEY lines) as trust anchors,
 * and each zone in `stubs` asked of 127.0.0.1:<port>. Nothing is cached (each question is asked and
 * validated again). Stopped by its PID.
 */
export async function startUnbound(
  dir: string,
  anchors: string[],
  stubs: { zone: string; port: number }[],
): Promise<Unbound> {
  const port = await freePort();
  const conf = join(dir, `unbound-${port}.conf`);
  await writeFile(
    conf,
    [
      "server:",
      "  interface: 127.0.0.1",
      `  port: ${port}`,
      "  do-ip6: no",
      "  do-not-query-localhost: no",
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      '  pidfile: ""',
      "  use-syslog: no",
      "  verbosity: 1",
      "  val-log-level: 2",
      "  num-threads: 1",
      "  access-control: 127.0.0.0/8 allow",
      '  module-config: "validator iterator"',
      "  qname-minimisation: no",
      "  aggressive-nsec: no",
      "  harden-dnssec-stripped: yes",
      "  cache-max-ttl: 0",
      // Unbound answers the special-use names (RFC 6761: test., invalid., ...) itself by default.
      '  local-zone: "test." nodefault',
      '  local-zone: "invalid." nodefault',
      "  cache-max-negative-ttl: 0",
      "  infra-host-ttl: 1",
      ...anchors.map((a) => `  trust-anchor: "${a}"`),
      "remote-control:",
      "  control-enable: no",
      ...stubs.flatMap((s) => ["stub-zone:", `  name: "${s.zone}"`, `  stub-addr: 127.0.0.1@${s.port}`]),
      "",
    ].join("\n"),
  );
  await run("unbound-checkconf", [conf]);
  const child: ChildProcess = spawn("unbound", ["-d", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitFor(`unbound on ${port} answers (log: ${log.slice(-500)})`, async () => {
    if (child.exitCode !== null) throw new Error(`unbound exited: ${log}`);
    try {
      await run("kdig", [
        "@127.0.0.1",
        "-p",
        String(port),
        "+time=1",
        "+retry=0",
        "version.server",
        "CH",
        "TXT",
      ]);
      return true;
    } catch {
      return false;
    }
  });
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}
