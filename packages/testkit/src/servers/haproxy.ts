import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../managed-process.js";
import { waitFor } from "../wait-for.js";
import { freePort } from "./nats-server.js";

export interface HaproxyFrontend {
  name: string;
  /** The server HAProxy forwards to (TCP mode). */
  server: { host: string; port: number };
  /** The PROXY protocol version HAProxy writes before the client's bytes (`send-proxy[-v2]`). */
  sendProxy: "v1" | "v2";
  /** Source address HAProxy connects from (`source`); default the kernel's choice (127.0.0.1). */
  source?: string;
  /** The frontend requires a PROXY v1/v2 header from its clients (`accept-proxy`). */
  acceptProxy?: boolean;
}

export interface HaproxyHandle {
  /** Listening port per frontend name, on 127.0.0.1. */
  ports: Record<string, number>;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts Debian's haproxy (/usr/sbin/haproxy, foreground, TCP mode) with one frontend per entry,
 * each forwarding to its server with a PROXY header: the real peer for the edge's PROXY parser.
 * HAProxy cannot bind port 0 and report it, so ports are chosen free and the start is retried
 * when one was taken meanwhile.
 */
export async function startHaproxy(frontends: HaproxyFrontend[]): Promise<HaproxyHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(frontends);
    } catch (err) {
      if (attempt >= 3 || !/cannot bind|Address already in use/i.test(String(err))) throw err;
    }
  }
}

async function startOnce(frontends: HaproxyFrontend[]): Promise<HaproxyHandle> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-haproxy-"));
  const ports: Record<string, number> = {};
  for (const f of frontends) ports[f.name] = await freePort();
  const conf = [
    "global",
    "    maxconn 200",
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    "    timeout client 30s",
    "    timeout server 30s",
    ...frontends.flatMap((f) => [
      `frontend ${f.name}`,
      `    bind 127.0.0.1:${ports[f.name]}${f.acceptProxy ? " accept-proxy" : ""}`,
      `    default_backend ${f.name}_backend`,
      `backend ${f.name}_backend`,
      `    server upstream ${f.server.host}:${f.server.port} ${f.sendProxy === "v2" ? "send-proxy-v2" : "send-proxy"}${f.source ? ` source ${f.source}` : ""}`,
    ]),
    "",
  ].join("\n");
  await writeFile(join(dir, "haproxy.cfg"), conf);
  const proc = startProcess("haproxy", "/usr/sbin/haproxy", ["-db", "-f", join(dir, "haproxy.cfg")]);
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`haproxy exited:\n${proc.lines.join("\n")}`);
        const all = await Promise.all(Object.values(ports).map(accepts));
        return all.every(Boolean);
      },
      { timeout: 10_000, what: "haproxy to listen" },
    );
    return { ports, pid: proc.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
