import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "@switchyard/runtime";
import type { UdpShare } from "@switchyard/worker";
import { targetPort } from "../config.js";
import type { StreamMetrics } from "../metrics.js";
import type { LiveRoute } from "../tcp/tcp-forwarder.js";
import { type Admitted, type SessionEnd, SessionLimits } from "./session-limits.js";

export type { SessionEnd };

interface Session {
  key: string;
  route: string;
  /** Which shared socket the client wrote to: replies leave from it. */
  shareKey: string;
  address: string;
  port: number;
  upstream: dgram.Socket;
  admitted: Admitted;
  idleTimeoutMs: number;
  lastActive: number;
  /** Datagrams that came before the upstream socket connected (at most QUEUE_MAX). */
  queue: Buffer[] | null;
}

const QUEUE_MAX = 16;

export interface UdpForwarderDeps {
  metrics: StreamMetrics;
  logger: Logger;
  routes: () => ReadonlyMap<string, LiveRoute>;
}

/**
 * UDP forward routes through node:dgram (`stream.udp: dgram`; the batched path is batch-forwarder.ts): the datagrams arrive on the edge's bound socket (shared with every stream
 * worker); each client address gets a session, an upstream socket connected to the route's
 * least-loaded target, and replies are sent from the shared socket, so the client sees the address
 * it wrote to. A session ends after the route's idle timeout without a datagram either way, on
 * reload when its route is gone, and on drain; the route's and each client's session bounds refuse
 * (drop) datagrams that would open one more.
 */
export class UdpForwarder {
  private readonly shares = new Map<string, UdpShare>();
  private readonly sessions = new Map<string, Session>();
  private readonly limits: SessionLimits;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly deps: UdpForwarderDeps) {
    this.limits = new SessionLimits(deps.metrics, deps.routes);
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * The shared sockets an attach newly opened (the kept ones are not passed again); sessions carry
   * on, replying from the socket now under their key. A share leaves the map when its socket
   * closes (its route dropped, or replaced by a new socket under the same key).
   */
  serve(shares: UdpShare[]): void {
    for (const share of shares) {
      const shareKey = `${share.route}|${share.address}|${share.port}`;
      this.shares.set(shareKey, share);
      share.socket.once("close", () => {
        if (this.shares.get(shareKey) === share) this.shares.delete(shareKey);
      });
      this.deps.logger.info(
        { udp: [`${share.address}:${share.port}`], route: share.route, mode: "dgram" },
        "serving udp",
      );
      share.socket.on("message", (msg, rinfo) => this.onClientDatagram(share, shareKey, msg, rinfo));
      share.socket.on("error", (err) =>
        this.deps.logger.warn({ err, route: share.route }, "shared udp socket error"),
      );
    }
  }

  private onClientDatagram(share: UdpShare, shareKey: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${shareKey}|${rinfo.address}|${rinfo.port}`;
    const { metrics } = this.deps;
    let session = this.sessions.get(key);
    if (!session) {
      session = this.open(share, shareKey, key, rinfo);
      if (!session) return;
    }
    session.lastActive = Date.now();
    metrics.datagrams.inc({ route: session.route, direction: "in" });
    if (session.queue) {
      if (session.queue.length < QUEUE_MAX) session.queue.push(msg);
      return;
    }
    session.upstream.send(msg);
  }

  private open(share: UdpShare, shareKey: string, key: string, rinfo: dgram.RemoteInfo): Session | undefined {
    const { metrics, logger } = this.deps;
    const admitted = this.limits.admit(share.route, rinfo.address);
    if (!admitted) return undefined;
    const { route, state } = admitted;
    const { config } = route;
    const host = state.target.host;
    const upstream = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");
    const session: Session = {
      key,
      route: config.name,
      shareKey,
      address: rinfo.address,
      port: rinfo.port,
      upstream,
      admitted,
      idleTimeoutMs: config.idleTimeoutMs,
      lastActive: Date.now(),
      queue: [],
    };
    this.sessions.set(key, session);
    this.limits.opened(admitted);
    upstream.on("error", (err) => {
      // A connected UDP socket hears ICMP port unreachable as ECONNREFUSED: the target is down.
      if ((err as NodeJS.ErrnoException).code === "ECONNREFUSED") route.targets.markDown(state);
      logger.debug({ err, route: config.name }, "udp session ended by an error");
      this.close(session, "error");
    });
    upstream.on("message", (reply) => {
      session.lastActive = Date.now();
      const out = this.shares.get(session.shareKey);
      if (!out) return;
      metrics.datagrams.inc({ route: session.route, direction: "out" });
      out.socket.send(reply, session.port, session.address);
    });
    upstream.connect(targetPort(config, state.target, share.port), host, () => {
      const queued = session.queue ?? [];
      session.queue = null;
      for (const m of queued) upstream.send(m);
    });
    this.startSweep();
    return session;
  }

  private close(session: Session, end: SessionEnd): void {
    if (this.sessions.get(session.key) !== session) return;
    this.sessions.delete(session.key);
    session.upstream.removeAllListeners("message");
    session.upstream.on("error", () => {});
    try {
      session.upstream.close();
    } catch {
      // already closed
    }
    this.limits.ended(session.admitted, end);
    if (this.sessions.size === 0) this.stopSweep();
  }

  /** After a reload: sessions of routes that are gone (or no longer udp forwards) end. */
  reloaded(): void {
    const routes = this.deps.routes();
    for (const session of [...this.sessions.values()]) {
      if (routes.get(session.route)?.config.protocol !== "udp") this.close(session, "reload");
    }
  }

  closeAll(end: SessionEnd): void {
    for (const session of [...this.sessions.values()]) this.close(session, end);
  }

  private startSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const session of [...this.sessions.values()]) {
        if (session.idleTimeoutMs > 0 && now - session.lastActive >= session.idleTimeoutMs) {
          this.close(session, "idle");
        }
      }
    }, 100);
    this.sweep.unref();
  }

  private stopSweep(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
