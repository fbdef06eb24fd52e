import dgram from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";
import { type AcceptHandler, TcpAcceptor } from "@switchyard/handoff";
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

const UDP_BIND_RETRY_MS = 5000;
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

  constructor(
    private readonly onAccept: AcceptHandler,
    private readonly logger: Logger,
  ) {}

  private ipv6Only(addresses: string[]): boolean {
    return addresses.some((a) => isIPv4(a));
  }

  async apply(
    addresses: string[],
    tcpPorts: number[],
    udpRoutes: Array<{ port: number; route: string; pool: string }>,
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
    for (const [k, { address, port }] of wantTcp) {
      if (this.tcp.has(k)) continue;
      const acceptor = this.listenTcp(address, port, v6only);
      if (acceptor) this.tcp.set(k, acceptor);
    }
    for (const [k, want] of wantUdp) {
      if (this.udp.has(k)) continue;
      const binding = await this.bindUdp(want, v6only);
      if (binding) this.udp.set(k, binding);
    }
  }

  udpFor(pool: string): UdpBinding[] {
    return [...this.udp.values()].filter((b) => b.pool === pool);
  }

  tcpAddresses(): Array<{ address: string; port: number }> {
    return [...this.tcp.values()].map((a) => ({ address: a.address.address, port: a.address.port }));
  }

  /** Stops accepting; established connections are not touched. */
  async close(): Promise<void> {
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

  private async bindUdp(
    want: { address: string; port: number; route: string; pool: string },
    v6only: boolean,
  ): Promise<UdpBinding | undefined> {
    const deadline = Date.now() + UDP_BIND_RETRY_MS;
    for (;;) {
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
        // Workers of a previous edge may still hold the old socket for a moment after it died.
        if (code === "EADDRINUSE" && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new ListenError("udp", want.address, want.port, { cause: err });
      }
    }
  }
}

function key(address: string, port: number): string {
  return `${address}|${port}`;
}
