import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "@switchyard/runtime";
import type { UdpShare } from "@switchyard/worker";
import { targetPort } from "../config.js";
import type { StreamMetrics } from "../metrics.js";
import type { TargetState } from "../targets/target-pool.js";
import type { LiveRoute } from "../tcp/tcp-forwarder.js";

export type SessionEnd = "idle" | "shutdown" | "reload" | "error";

interface Session {
  key: string;
  route: string;
  /** Which shared socket the client wrote to: replies leave from it. */
  shareKey: string;
  clientKey: string;
  address: string;
  port: number;
  upstream: dgram.Socket;
  state: TargetState;
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
 * UDP forward routes: the datagrams arrive on the edge's bound socket (shared with every stream
 * worker); each client address gets a session, an upstream socket connected to the route's
 * least-loaded target, and replies are sent from the shared socket, so the client sees the address
 * it wrote to. A session ends after the route's idle timeout without a datagram either way, on
 * reload when its route is gone, and on drain; the route's and each client's session bounds refuse
 * (drop) datagrams that would open one more.
 */
export class UdpForwarder {
  private readonly shares = new Map<string, UdpShare>();
  private readonly sessions = new Map<string, Session>();
  private readonly perClient = new Map<string, number>();
  private readonly perRoute = new Map<string, number>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly deps: UdpForwarderDeps) {}

  get size(): number {
    return this.sessions.size;
  }

  /** The edge's shared sockets after an attach; sessions carry on, replying from the new ones. */
  serve(shares: UdpShare[]): void {
    this.shares.clear();
    for (const share of shares) {
      const shareKey = `${share.route}|${share.address}|${share.port}`;
      this.shares.set(shareKey, share);
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
    const route = this.deps.routes().get(share.route);
    if (route?.config.protocol !== "udp") {
      metrics.refused(share.route, "unknown-route");
      return undefined;
    }
    const { config } = route;
    const clientKey = `${config.name}|${rinfo.address}`;
    if ((this.perRoute.get(config.name) ?? 0) >= config.maxSessions) {
      metrics.refused(config.name, "route-sessions");
      return undefined;
    }
    if ((this.perClient.get(clientKey) ?? 0) >= config.maxSessionsPerClient) {
      metrics.refused(config.name, "client-sessions");
      return undefined;
    }
    const state = route.targets.pick();
    if (!state) {
      metrics.refused(config.name, "no-target");
      return undefined;
    }
    const host = state.target.host;
    const upstream = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");
    const session: Session = {
      key,
      route: config.name,
      shareKey,
      clientKey,
      address: rinfo.address,
      port: rinfo.port,
      upstream,
      state,
      idleTimeoutMs: config.idleTimeoutMs,
      lastActive: Date.now(),
      queue: [],
    };
    this.sessions.set(key, session);
    this.perRoute.set(config.name, (this.perRoute.get(config.name) ?? 0) + 1);
    this.perClient.set(clientKey, (this.perClient.get(clientKey) ?? 0) + 1);
    state.active++;
    metrics.sessionsActive.inc({ route: config.name });
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
    decrement(this.perRoute, session.route);
    decrement(this.perClient, session.clientKey);
    session.state.active--;
    session.upstream.removeAllListeners("message");
    session.upstream.on("error", () => {});
    try {
      session.upstream.close();
    } catch {
      // already closed
    }
    this.deps.metrics.sessionsActive.dec({ route: session.route });
    this.deps.metrics.sessions.inc({ route: session.route, end });
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

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
