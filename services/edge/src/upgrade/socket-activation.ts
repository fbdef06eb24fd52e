import type { InheritedSockets } from "../accept/listeners.js";

/** The first fd systemd (or a supervisor) passes: SD_LISTEN_FDS_START. */
const LISTEN_FDS_START = 3;

/**
 * An fd's name in LISTEN_FDNAMES (systemd's FileDescriptorName=, which may not hold ":"):
 * `tcp_127.0.0.1_25`, `udp_0.0.0.0_53`, IPv6 with "-" for ":" (`tcp_--_443` is [::]:443).
 */
export function socketName(kind: "tcp" | "udp", address: string, port: number): string {
  return `${kind}_${address.replaceAll(":", "-")}_${port}`;
}

/** Every listening socket with its socketName(): what an fd store (ours or systemd's) is given. */
export function namedSockets(sockets: InheritedSockets): { fd: number; name: string }[] {
  return [
    ...sockets.tcp.map((t) => ({ fd: t.fd, name: socketName("tcp", t.address, t.port) })),
    ...sockets.udp.map((u) => ({ fd: u.fd, name: socketName("udp", u.address, u.port) })),
  ];
}

function parseName(name: string): { kind: "tcp" | "udp"; address: string; port: number } | undefined {
  const m = /^(tcp|udp)_([0-9a-fA-F.-]+)_(\d{1,5})$/.exec(name);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { kind: m[1] as "tcp" | "udp", address: (m[2] as string).replaceAll("-", ":"), port };
}

/**
 * Sockets passed by systemd socket activation or a supervisor's fd store (LISTEN_FDS from fd 3 on,
 * LISTEN_PID this process, LISTEN_FDNAMES naming each as socketName() does). Fds whose name says
 * nothing usable are returned in `unnamed` for the caller to log and close.
 */
export function listenFds(
  env: {
    LISTEN_FDS?: string | undefined;
    LISTEN_PID?: string | undefined;
    LISTEN_FDNAMES?: string | undefined;
  },
  pid: number,
): { sockets: InheritedSockets; unnamed: Array<{ fd: number; name: string }> } | undefined {
  if (!env.LISTEN_FDS || Number(env.LISTEN_PID) !== pid) return undefined;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 1 || count > 1024) return undefined;
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  const sockets: InheritedSockets = { tcp: [], udp: [] };
  const unnamed: Array<{ fd: number; name: string }> = [];
  for (let i = 0; i < count; i++) {
    const fd = LISTEN_FDS_START + i;
    const name = names[i] ?? "";
    const parsed = parseName(name);
    if (!parsed) unnamed.push({ fd, name });
    else if (parsed.kind === "tcp")
      sockets.tcp.push({
        fd,
        address: parsed.address,
        port: parsed.port,
        family: parsed.address.includes(":") ? 6 : 4,
      });
    else sockets.udp.push({ fd, address: parsed.address, port: parsed.port });
  }
  return { sockets, unnamed };
}
