import dgram from "node:dgram";
import { fstat } from "node:fs";
import { isIPv6 } from "node:net";
import { closeFd } from "@switchyard/handoff";

/** A shared UDP socket a worker serves: a dgram socket, or a handle that adopted the fd. */
export interface UdpShare {
  socket: dgram.Socket;
  route: string;
  address: string;
  port: number;
}

/** What `adoptUdp` made of a shared UDP fd: the worker closes it when it leaves or the edge drops the route. */
export interface UdpHandle {
  close(): void;
}

/** A shared UDP socket before it is opened: the edge's fd and where it listens. */
export interface UdpShareInfo {
  fd: number;
  route: string;
  address: string;
  port: number;
}

export interface UdpOpeners {
  adoptUdp?: ((share: UdpShareInfo) => UdpHandle | undefined) | undefined;
}

interface Held {
  info: UdpShareInfo;
  /** The socket's inode: two fds with the same one are the same socket. */
  ino: number;
  close(): void;
}

/** The socket inode behind an fd (fstat on the thread pool), or -1 when the fd is not open. */
function inodeOf(fd: number): Promise<number> {
  return new Promise((resolve) => fstat(fd, (err, stats) => resolve(err ? -1 : stats.ino)));
}

const key = (s: { address: string; port: number }) => `${s.address}|${s.port}`;

/**
 * The edge's bound UDP sockets a worker serves. They outlive the edge: while it is away (crash,
 * restart, upgrade) the worker keeps answering on them, shows them to the next edge when it attaches
 * (so that edge can adopt the socket the port is bound to), and keeps serving a socket the edge sends
 * again (same inode) without reopening it: no datagram is dropped on the way.
 */
export class UdpHoldings {
  private held = new Map<string, Held>();

  constructor(private readonly openers: UdpOpeners) {}

  get size(): number {
    return this.held.size;
  }

  /** What the worker holds, for the attach message: one fd per entry, same order. */
  presented(): { udp: Array<{ route: string; address: string; port: number }>; fds: number[] } {
    const all = [...this.held.values()];
    return {
      udp: all.map(({ info }) => ({ route: info.route, address: info.address, port: info.port })),
      fds: all.map(({ info }) => info.fd),
    };
  }

  /**
   * The edge's list after an attach or a reload: sockets already held stay as they are (the
   * received duplicate fd is closed), new ones are opened, held ones the edge no longer sends are
   * closed. Resolves with the dgram sockets opened now (adopted handles are not in it).
   */
  async replace(shares: UdpShareInfo[]): Promise<{ opened: UdpShare[]; kept: number; adopted: number }> {
    const next = new Map<string, Held>();
    const opened: UdpShare[] = [];
    let kept = 0;
    let adopted = 0;
    for (const share of shares) {
      const k = key(share);
      const ino = await inodeOf(share.fd);
      const old = this.held.get(k);
      if (old && old.ino === ino && ino !== -1) {
        closeFd(share.fd);
        this.held.delete(k);
        next.set(k, old);
        kept++;
        continue;
      }
      const handle = this.openers.adoptUdp?.(share);
      if (handle) {
        next.set(k, { info: share, ino, close: () => handle.close() });
        adopted++;
        continue;
      }
      // Replies go to the literal address a datagram came from: no DNS lookup (and no extra tick) per send.
      const socket = dgram.createSocket({
        type: isIPv6(share.address) ? "udp6" : "udp4",
        lookup: literalLookup,
      });
      socket.bind({ fd: share.fd });
      next.set(k, { info: share, ino, close: () => socket.close() });
      opened.push({ socket, route: share.route, address: share.address, port: share.port });
    }
    // Opened first, closed after: a socket the edge replaced keeps answering until its successor does.
    this.closeAll();
    this.held = next;
    return { opened, kept, adopted };
  }

  closeAll(): void {
    for (const h of this.held.values()) {
      try {
        h.close();
      } catch {
        // already closed
      }
    }
    this.held.clear();
  }
}

/**
 * dgram's `lookup` for the addresses replies go to, which are the IP literals datagrams came from:
 * answers at once, synchronously (a name would fail in the send itself).
 */
function literalLookup(
  address: string,
  _family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(":") ? 6 : 4);
}
