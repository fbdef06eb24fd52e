import { readdir, readFile, readlink } from "node:fs/promises";

/** What a process holds open, read from /proc (Linux): every fd, and its TCP sockets by local port. */
export interface FdCensus {
  /** Open fds, every kind. */
  total: number;
  /** TCP sockets (IPv4 and IPv6) by their local port: listening and connected ones alike. */
  tcpByLocalPort: Map<number, number>;
}

/** Socket inode → local TCP port, from /proc/net/tcp and tcp6. */
async function tcpLocalPorts(): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const inode = cols[9];
      if (!local || !inode) continue;
      ports.set(inode, Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16));
    }
  }
  return ports;
}

/**
 * Counts the fds of `pid`. A socket whose local port is in `except` (e.g. a metrics port a test
 * scrapes over keep-alive connections) is left out of `total`, so the reading does not count itself.
 */
export async function fdCensus(pid: number, except: readonly number[] = []): Promise<FdCensus> {
  const dir = `/proc/${pid}/fd`;
  const fds = await readdir(dir);
  const ports = await tcpLocalPorts();
  const tcpByLocalPort = new Map<number, number>();
  let total = 0;
  for (const fd of fds) {
    const link = await readlink(`${dir}/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    const port = inode === undefined ? undefined : ports.get(inode);
    if (port !== undefined) tcpByLocalPort.set(port, (tcpByLocalPort.get(port) ?? 0) + 1);
    if (port === undefined || !except.includes(port)) total++;
  }
  return { total, tcpByLocalPort };
}
