import { Resolver } from "node:dns/promises";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, waitFor } from "@switchyard/testkit";

/** One zone for the test DNS server: its apex and the record lines (relative or absolute names). */
export interface TestZone {
  origin: string;
  records: string[];
}

export interface KnotTestServer {
  /** `127.0.0.1:<port>`: what `mail.inbound.resolver` takes. */
  address: string;
  port: number;
  stop(): Promise<void>;
}

/** Splits a TXT value into the quoted 255-byte strings a zone file wants. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(" ");
}

/**
 * Test support: Debian's knotd serving the given zones from zone files in a temporary directory,
 * on a free port of 127.0.0.1 (UDP and TCP). The mail service's checks resolve through it.
 */
export async function startKnotServer(zones: TestZone[]): Promise<KnotTestServer> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-knot-${process.pid}-`));
  let proc: ManagedProcess | undefined;
  try {
    const port = await freePort();
    for (const zone of zones) {
      const origin = zone.origin.replace(/\.$/, "");
      const text = [
        `$ORIGIN ${origin}.`,
        "$TTL 60",
        `@ SOA ns.${origin}. hostmaster.${origin}. 1 3600 600 86400 60`,
        `@ NS ns.${origin}.`,
        "ns A 127.0.0.1",
        ...zone.records,
        "",
      ].join("\n");
      await writeFile(join(dir, `${origin}.zone`), text);
    }
    const conf = [
      "server:",
      `    rundir: "${dir}"`,
      `    listen: 127.0.0.1@${port}`,
      "log:",
      "  - target: stderr",
      "    any: info",
      "database:",
      `    storage: "${dir}"`,
      "template:",
      "  - id: default",
      `    storage: "${dir}"`,
      '    file: "%s.zone"',
      "zone:",
      ...zones.map((z) => `  - domain: ${z.origin.replace(/\.$/, "")}`),
      "",
    ].join("\n");
    await writeFile(join(dir, "knot.conf"), conf);
    const started = startProcess("knotd", "knotd", ["-c", join(dir, "knot.conf")]);
    proc = started;
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    await waitFor(
      `knotd on port ${port} to serve ${zones.map((z) => z.origin).join(", ")}`,
      async () => {
        if (started.child.exitCode !== null) throw new Error(`knotd exited:\n${started.lines.join("\n")}`);
        const answers = await Promise.all(
          zones.map((z) =>
            resolver.resolveSoa(z.origin).then(
              () => true,
              () => false,
            ),
          ),
        );
        return answers.every(Boolean);
      },
      15_000,
      100,
    );
    return {
      address: `127.0.0.1:${port}`,
      port,
      async stop() {
        await started.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await proc?.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
