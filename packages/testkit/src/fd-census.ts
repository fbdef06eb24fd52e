import { readdir, readFile, readlink } from "node:fs/promises";

/** What a process holds open, read from /proc (Linux): every fd, and its TCP sockets by local port. */
export interface FdCensus {
  /** Open fds, every kind. */
  total: number;
  /** TCP sockets (IPv4 and IPv6) by their local port: listening and connected ones alike. */
  tcpByLocalPort: Map<number, number>;
  /** What each counted fd is (`socket:[inode] tcp :local->:remote`, `pipe:[…]`, a path), for messages. */
  counted: string[];
}

/** Socket inode → local and remote TCP port, from /proc/net/tcp and tcp6. */
async function tcpPorts(): Promise<Map<string, { local: number; remote: number }>> {
  const ports = new Map<string, { local: number; remote: number }>();
  const port = (address: string) => Number.parseInt(address.slice(address.lastIndexOf(":") + 1), 16);
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const remote = cols[2];
      const inode = cols[9];
      if (!local || !remote || !inode) continue;
      ports.set(inode, { local: port(local), remote: port(remote) });
    }
  }
  return ports;
}

/**
 * Counts the fds of `pid`. A socket whose local port is in `except` (e.g. a metrics port a test
 * scrapes over keep-alive connections) is left out of `total`, so the reading does not count itself.
 */
export async function fdCensus(
  pid: number,
  except: readonly number[] = [],
  /** Also leave out TCP sockets connected to these ports (a gRPC client's own reconnections). */
  exceptRemote: readonly number[] = [],
): Promise<FdCensus> {
  const dir = `/proc/${pid}/fd`;
  const fds = await readdir(dir);
  const ports = await tcpPorts();
  const tcpByLocalPort = new Map<number, number>();
  const counted: string[] = [];
  for (const fd of fds) {
    const link = await readlink(`${dir}/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    const tcp = inode === undefined ? undefined : ports.get(inode);
    if (tcp !== undefined) tcpByLocalPort.set(tcp.local, (tcpByLocalPort.get(tcp.local) ?? 0) + 1);
    if (tcp && (except.includes(tcp.local) || exceptRemote.includes(tcp.remote))) continue;
    counted.push(tcp ? `${link} tcp :${tcp.local}->:${tcp.remote}` : link);
  }
  return { total: counted.length, tcpByLocalPort, counted };
}
