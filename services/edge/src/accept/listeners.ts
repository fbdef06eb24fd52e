import dgram from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";
import { type AcceptHandler, closeFd, TcpAcceptor } from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import { ListenError } from "../errors.js";
import { shareUdpSocket } from "./socket-internals.js";

export interface UdpBinding {
  route: string;
  pool: string;
  address: string;
  port: number;
  fd: number;
  socket: dgram.Socket;
}

/** While a UDP port is bound elsewhere (workers still serve the previous edge's socket), bind again this often. */
const UDP_REBIND_MS = 250;

/** Sockets a predecessor handed over (upgrade) or a supervisor passed in: used instead of binding anew. */
export interface InheritedSockets {
  tcp: Array<{ fd: number; address: string; port: number; family: 4 | 6 }>;
  udp: Array<{ fd: number; address: string; port: number }>;
}

/** A UDP port the edge could not bind yet because its socket lives on in workers (or elsewhere). */
interface PendingUdp {
  want: { address: string; port: number; route: string; pool: string };
  v6only: boolean;
  timer: NodeJS.Timeout;
  tries: number;
}
const NO_IPV6 = new Set(["EAFNOSUPPORT", "EADDRNOTAVAIL", "EPROTONOSUPPORT"]);

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/**
 * The edge's public sockets: a native TCP acceptor per address and port (accepts in batches and
 * gives the edge fds, not sockets), and a bound UDP
 * socket per address and port that the edge never reads (its fd goes to the pool's workers).
 * `apply` opens what is new and closes what is gone, so a reload keeps untouched listeners as they are.
 */
export class Listeners {
  private readonly tcp = new Map<string, TcpAcceptor>();
  private readonly udp = new Map<string, UdpBinding>();
  private readonly pendingUdp = new Map<string, PendingUdp>();
  private paused = false;

  constructor(
    private readonly onAccept: AcceptHandler,
    private readonly logger: Logger,
    /** A pool's UDP sockets changed outside apply() (a pending port got bound or adopted). */
    private readonly onUdpReady: (pool: string) => void = () => {},
  ) {}

  private ipv6Only(addresses: string[]): boolean {
    return addresses.some((a) => isIPv4(a));
  }

  async apply(
    addresses: string[],
    tcpPorts: number[],
    udpRoutes: Array<{ port: number; route: string; pool: string }>,
    inherited: InheritedSockets = { tcp: [], udp: [] },
  ): Promise<void> {
    const v6only = this.ipv6Only(addresses);
    const wantTcp = new Map<string, { address: string; port: number }>();
    for (const address of addresses)
      for (const port of tcpPorts) wantTcp.set(key(address, port), { address, port });
    const wantUdp = new Map<string, { address: string; port: number; route: string; pool: string }>();
    for (const address of addresses)
      for (const u of udpRoutes) wantUdp.set(key(address, u.port), { address, ...u });

    for (const [k, acceptor] of this.tcp) {
      if (!wantTcp.has(k)) {
        acceptor.close();
        this.tcp.delete(k);
      }
    }
    for (const [k, pending] of this.pendingUdp) {
      const want = wantUdp.get(k);
      if (!want) {
        clearTimeout(pending.timer);
        this.pendingUdp.delete(k);
      } else pending.want = want;
    }
    for (const [k, binding] of this.udp) {
      const want = wantUdp.get(k);
      if (!want) {
        binding.socket.close();
        this.udp.delete(k);
      } else {
        binding.route = want.route;
        binding.pool = want.pool;
      }
    }
    const givenTcp = new Map(inherited.tcp.map((t) => [key(t.address, t.port), t]));
    const givenUdp = new Map(inherited.udp.map((u) => [key(u.address, u.port), u]));
    for (const [k, { address, port }] of wantTcp) {
      if (this.tcp.has(k)) continue;
      const given = givenTcp.get(k);
      givenTcp.delete(k);
      const acceptor = given
        ? TcpAcceptor.adopt(given.fd, given, this.onAccept, { paused: this.paused })
        : this.listenTcp(address, port, v6only);
      if (!acceptor) continue;
      if (given)
        acceptor.on("error", (err: Error) => this.logger.error({ err, address, port }, "tcp accept error"));
      this.tcp.set(k, acceptor);
    }
    for (const [k, want] of wantUdp) {
      if (this.udp.has(k) || this.pendingUdp.has(k)) continue;
      const given = givenUdp.get(k);
      givenUdp.delete(k);
      const binding = given ? this.openUdp(want, given.fd) : await this.bindUdp(k, want, v6only);
      if (binding) this.udp.set(k, binding);
    }
    // Handed over but no longer configured: this edge does not serve them.
    for (const t of givenTcp.values()) closeFd(t.fd);
    for (const u of givenUdp.values()) closeFd(u.fd);
  }

  /** Stops taking connections (the kernel's backlog keeps them) until resume(). New acceptors start paused too. */
  pause(): void {
    this.paused = true;
    for (const acceptor of this.tcp.values()) acceptor.pause();
  }

  resume(): void {
    this.paused = false;
    for (const acceptor of this.tcp.values()) acceptor.resume();
  }

  /** Every listening socket with its fd, for a successor edge (the fds stay this process's until close()). */
  handover(): InheritedSockets & { udp: Array<{ fd: number; address: string; port: number }> } {
    return {
      tcp: [...this.tcp.values()].flatMap((a) => (a.fd < 0 ? [] : [{ fd: a.fd, ...a.address }])),
      udp: [...this.udp.values()].map(({ fd, address, port }) => ({ fd, address, port })),
    };
  }

  /**
   * Bound UDP sockets a worker of `pool` still serves from a previous edge: a port this edge could
   * not bind (they hold it) is served by the worker's socket from now on. Returns how many were
   * adopted; every other fd is closed.
   */
  adoptUdp(pool: string, presented: Array<{ fd: number; address: string; port: number }>): number {
    let adopted = 0;
    for (const p of presented) {
      const k = key(p.address, p.port);
      const pending = this.pendingUdp.get(k);
      if (!pending || pending.want.pool !== pool) {
        closeFd(p.fd);
        continue;
      }
      const binding = this.openUdp(pending.want, p.fd);
      if (!binding) continue;
      clearTimeout(pending.timer);
      this.pendingUdp.delete(k);
      this.udp.set(k, binding);
      adopted++;
      this.logger.info(
        { address: p.address, port: p.port, pool },
        "adopted the UDP socket a worker kept serving",
      );
    }
    return adopted;
  }

  udpFor(pool: string): UdpBinding[] {
    return [...this.udp.values()].filter((b) => b.pool === pool);
  }

  tcpAddresses(): Array<{ address: string; port: number }> {
    return [...this.tcp.values()].map((a) => ({ address: a.address.address, port: a.address.port }));
  }

  /** Stops accepting; established connections are not touched. */
  async close(): Promise<void> {
    for (const p of this.pendingUdp.values()) clearTimeout(p.timer);
    this.pendingUdp.clear();
    for (const acceptor of this.tcp.values()) acceptor.close();
    this.tcp.clear();
    for (const b of this.udp.values()) b.socket.close();
    this.udp.clear();
  }

  private listenTcp(address: string, port: number, v6only: boolean): TcpAcceptor | undefined {
    try {
      const acceptor = TcpAcceptor.listen(
        { host: address, port, ipv6Only: isIPv6(address) && v6only },
        this.onAccept,
      );
      acceptor.on("error", (err: Error) => this.logger.error({ err, address, port }, "tcp accept error"));
      return acceptor;
    } catch (err) {
      if (isIPv6(address) && NO_IPV6.has(errCode((err as Error).cause) ?? "")) {
        this.logger.warn({ address, port, err }, "no IPv6 here; skipping this listener");
        return undefined;
      }
      throw new ListenError("tcp", address, port, { cause: err });
    }
  }

  /** A UDP socket from an fd (handed over or kept by a worker), checked to be bound where it should be. */
  private openUdp(
    want: { address: string; port: number; route: string; pool: string },
    fd: number,
  ): UdpBinding | undefined {
    const socket = dgram.createSocket(isIPv6(want.address) ? "udp6" : "udp4");
    try {
      socket.bind({ fd });
      const bound = socket.address();
      if (bound.port !== want.port || bound.address !== want.address) {
        throw new Error(`bound to ${bound.address}:${bound.port}, not ${want.address}:${want.port}`);
      }
      socket.on("error", (err) => this.logger.error({ err, ...want }, "udp socket error"));
      return { ...want, socket, fd: shareUdpSocket(socket) };
    } catch (err) {
      this.logger.warn({ err, ...want }, "refused a UDP socket fd that is not the one configured");
      try {
        socket.close();
      } catch {
        closeFd(fd);
      }
      return undefined;
    }
  }

  private async bindUdp(
    k: string,
    want: { address: string; port: number; route: string; pool: string },
    v6only: boolean,
  ): Promise<UdpBinding | undefined> {
    const bound = await this.tryBindUdp(want, v6only);
    if (bound !== "in-use") return bound;
    // Workers of a previous edge still serve its socket: the first to attach hands it over
    // (adoptUdp); until then, or if something else holds the port, try again in the background.
    this.logger.info({ ...want }, "UDP port still bound (by workers of the previous edge?); waiting for it");
    const pending: PendingUdp = {
      want,
      v6only,
      tries: 0,
      timer: setTimeout(() => void this.rebind(k, pending), UDP_REBIND_MS),
    };
    pending.timer.unref();
    this.pendingUdp.set(k, pending);
    return undefined;
  }

  private async tryBindUdp(
    want: { address: string; port: number; route: string; pool: string },
    v6only: boolean,
  ): Promise<UdpBinding | "in-use" | undefined> {
    const v6 = isIPv6(want.address);
    const socket = dgram.createSocket(v6 ? { type: "udp6", ipv6Only: v6only } : { type: "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind({ address: want.address, port: want.port }, () => {
          socket.removeListener("error", reject);
          resolve();
        });
      });
      socket.on("error", (err) => this.logger.error({ err, ...want }, "udp socket error"));
      return { ...want, socket, fd: shareUdpSocket(socket) };
    } catch (err) {
      socket.close();
      const code = errCode(err) ?? "";
      if (isIPv6(want.address) && NO_IPV6.has(code)) {
        this.logger.warn({ ...want, err }, "no IPv6 here; skipping this UDP socket");
        return undefined;
      }
      if (code === "EADDRINUSE") return "in-use";
      throw new ListenError("udp", want.address, want.port, { cause: err });
    }
  }

  /** One more try for a pending UDP port; it stays pending (adoptable) while the bind is in flight. */
  private async rebind(k: string, pending: PendingUdp): Promise<void> {
    if (this.pendingUdp.get(k) !== pending) return;
    pending.tries++;
    let bound: UdpBinding | "in-use" | undefined;
    try {
      bound = await this.tryBindUdp(pending.want, pending.v6only);
    } catch (err) {
      this.logger.error({ err, ...pending.want }, "cannot bind UDP socket");
      bound = "in-use";
    }
    if (this.pendingUdp.get(k) !== pending) {
      // Adopted or no longer wanted meanwhile.
      if (bound && bound !== "in-use") bound.socket.close();
      return;
    }
    if (bound === "in-use") {
      if (pending.tries % 40 === 0)
        this.logger.warn({ ...pending.want, tries: pending.tries }, "UDP port still bound by another socket");
      pending.timer = setTimeout(() => void this.rebind(k, pending), UDP_REBIND_MS);
      pending.timer.unref();
      return;
    }
    this.pendingUdp.delete(k);
    if (!bound) return;
    this.udp.set(k, bound);
    this.onUdpReady(bound.pool);
  }
}

function key(address: string, port: number): string {
  return `${address}|${port}`;
}
