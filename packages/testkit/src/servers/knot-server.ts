import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../managed-process.js";
import { freePort } from "./nats-server.js";

export interface KnotOptions {
  /** The zone's origin and its RFC 1035 master file text. */
  zones: Array<{
    origin: string;
    text: string /** Signed on the fly by mod-onlinesign (its default policy). */;
    onlineSign?: boolean;
  }>;
  /** UDP and TCP port (default: a free one). */
  port?: number;
  /** Worker threads per transport (default 1; the benchmark raises them). */
  workers?: number;
  /** Extra lines for the `server:` section. */
  serverLines?: string[];
}

export interface KnotHandle {
  port: number;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts Debian's knotd in the foreground on 127.0.0.1 with the given zones (config, zone files,
 * run and storage directories in a temp dir that stop() removes), and waits until every zone is loaded.
 */
export async function startKnot(options: KnotOptions): Promise<KnotHandle> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-knot-${process.pid}-`));
  const port = options.port ?? (await freePort());
  const workers = options.workers ?? 1;
  for (const z of options.zones) await writeFile(join(dir, `${bare(z.origin)}.zone`), z.text);
  const conf = [
    "server:",
    `    listen: 127.0.0.1@${port}`,
    `    rundir: ${dir}`,
    `    udp-workers: ${workers}`,
    `    tcp-workers: ${workers}`,
    "    background-workers: 1",
    ...(options.serverLines ?? []).map((l) => `    ${l}`),
    "database:",
    `    storage: ${dir}`,
    "log:",
    "  - target: stderr",
    "    any: info",
    "template:",
    "  - id: default",
    `    storage: ${dir}`,
    "    file: %s.zone",
    "    zonefile-sync: -1",
    "    journal-content: none",
    "zone:",
    ...options.zones.flatMap((z) => [
      `  - domain: ${bare(z.origin)}.`,
      ...(z.onlineSign ? ["    module: mod-onlinesign"] : []),
    ]),
    "",
  ].join("\n");
  await writeFile(join(dir, "knot.conf"), conf);
  const proc = startProcess("knotd", "knotd", ["-c", join(dir, "knot.conf")]);
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForLoaded(proc.lines, options.zones.length, proc);
    return { port, dir, pid: proc.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function bare(origin: string): string {
  return origin.toLowerCase().replace(/\.$/, "");
}

/** knotd logs "[zone.] loaded, serial ..." per zone (plain text lines); a zone that fails stops the wait. */
async function waitForLoaded(
  lines: ReadonlyArray<unknown>,
  count: number,
  proc: { exited: Promise<unknown> },
): Promise<void> {
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited) {
    const loaded = new Set<string>();
    for (const line of lines) {
      if (typeof line !== "string") continue;
      const m = /\[([^\]]+)\] loaded, serial/.exec(line);
      if (m?.[1]) loaded.add(m[1]);
      if (/failed to parse|event 'load' failed/.test(line)) throw new Error(`knotd: ${line}`);
    }
    if (loaded.size >= count) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  const tail = lines.slice(-10).join("\n");
  throw new Error(`knotd did not load ${count} zone(s) ${exited ? "(it exited)" : "in 15 s"}:\n${tail}`);
}
