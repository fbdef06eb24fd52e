import { lookup } from "node:dns";
import { isIP } from "node:net";
import { constants } from "node:os";
import type { Logger } from "@switchyard/runtime";
import type { UdpRelaySocket } from "@switchyard/udp-batch";
import type { UdpHandle, UdpShareInfo } from "@switchyard/worker";
import { targetPort } from "../config.js";
import type { StreamMetrics } from "../metrics.js";
import type { LiveRoute } from "../tcp/tcp-forwarder.js";
import { type Admitted, type ClientKey, type SessionEnd, SessionLimits } from "./session-limits.js";

type UdpBatchModule = typeof import("@switchyard/udp-batch");

/** A share's socket: datagrams per recvmmsg, and a slot as big as a UDP datagram can be. */
const BATCH = 32;
const SLOT = 65536;
/** Datagrams held while a target's name resolves (at most). */
const QUEUE_MAX = 16;
const SWEEP_MS = 100;

interface Session {
  id: number;
  key: ClientKey;
  share: Share;
  admitted: Admitted;
  idleTimeoutMs: number;
  /** Datagrams in from the client (counted here) and replies out (counted by the addon), as last seen. */
  in: number;
  seenIn: number;
  seenOut: number;
  lastActive: number;
  /** Datagrams held while the target's name resolves; null once connected. */
  queue: Buffer[] | null;
}

/** One shared socket of one route: its own session table, keyed by the client's address and port. */
interface Share {
  route: string;
  port: number;
  socket: UdpRelaySocket;
  sessions: Map<ClientKey, Session>;
  byId: Array<Session | undefined>;
  free: number[];
  /** Datagrams not yet added to the metrics (flushed by the sweep's callers and by collect()). */
  in: number;
  out: number;
}

export interface UdpBatchForwarderDeps {
  addon: UdpBatchModule;
  metrics: StreamMetrics;
  logger: Logger;
  routes: () => ReadonlyMap<string, LiveRoute>;
}

/**
 * UDP forward routes in batches (`stream.udp: batch`, the default): each shared socket is read with
 * recvmmsg (packages/udp-batch's UdpRelaySocket), its peers arrive raw and sessions are keyed by a
 * number (IPv4: address × 65536 + port; IPv6: a string), and each session's upstream socket belongs
 * to the addon: a batch's datagrams leave with one sendmmsg per session, and replies go back to the
 * client from the shared socket in native code, with no JavaScript per reply. The bounds, idle
 * timeout, reload and drain are those of the dgram path (udp-forwarder.ts); a session ends in
 * `close` whatever ends it, and the addon closes its socket there.
 */
export class UdpBatchForwarder {
  private readonly shares = new Set<Share>();
  private readonly limits: SessionLimits;
  private count = 0;
  private sweep: NodeJS.Timeout | undefined;
  /** Set by closeAll("shutdown"): sessions of shares closed after it end as "shutdown", and none opens. */
  private ending: SessionEnd | undefined;

  constructor(private readonly deps: UdpBatchForwarderDeps) {
    this.limits = new SessionLimits(deps.metrics, deps.routes);
    deps.metrics.onCollect(() => this.flush());
  }

  get size(): number {
    return this.count;
  }

  /** Serves one of the edge's shared sockets (the worker's adoptUdp); undefined: dgram serves it. */
  adopt(info: UdpShareInfo): UdpHandle | undefined {
    const { addon, logger } = this.deps;
    let share: Share | undefined; // set before any batch can arrive (the constructor returns first)
    let socket: UdpRelaySocket;
    try {
      socket = new addon.UdpRelaySocket(info.fd, (s, count) => share && this.onBatch(share, s, count), {
        batch: BATCH,
        slot: SLOT,
        onSessionError: (id, errno) => share && this.onSessionError(share, id, errno),
        onError: (err) => logger.warn({ err, route: info.route }, "shared udp socket error"),
      });
    } catch (err) {
      logger.warn({ err, route: info.route }, "cannot serve udp in batches: dgram instead");
      return undefined;
    }
    const ready: Share = {
      route: info.route,
      port: info.port,
      socket,
      sessions: new Map(),
      byId: [],
      free: [],
      in: 0,
      out: 0,
    };
    share = ready;
    this.shares.add(ready);
    logger.info({ udp: [`${info.address}:${info.port}`], route: info.route, mode: "batch" }, "serving udp");
    return { close: () => this.closeShare(ready) };
  }

  private onBatch(share: Share, s: UdpRelaySocket, count: number): void {
    const sessions = share.sessions;
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (s.size(i) < 0) continue; // bigger than a slot: not delivered (counted by the addon)
      const key = s.peerKey(i);
      const session = sessions.get(key) ?? this.open(share, s, i, key);
      if (!session) continue;
      session.in++;
      n++;
      if (session.queue) {
        const data = s.datagram(i);
        if (data && session.queue.length < QUEUE_MAX) session.queue.push(Buffer.from(data));
        continue;
      }
      s.forward(i, session.id);
    }
    share.in += n;
  }

  private open(share: Share, s: UdpRelaySocket, i: number, key: ClientKey): Session | undefined {
    if (this.ending) return undefined;
    const admitted = this.limits.admit(share.route, s.clientKey(i));
    if (!admitted) return undefined;
    const { config } = admitted.route;
    const target = admitted.state.target;
    const port = targetPort(config, target, share.port);
    const ip = isIP(target.host) ? target.host : "";
    const id = share.free.pop() ?? share.byId.length;
    const rc = s.open(id, i, ip, port);
    const session: Session = {
      id,
      key,
      share,
      admitted,
      idleTimeoutMs: config.idleTimeoutMs,
      in: 0,
      seenIn: 0,
      seenOut: 0,
      lastActive: Date.now(),
      queue: ip ? null : [],
    };
    share.sessions.set(key, session);
    share.byId[id] = session;
    this.limits.opened(admitted);
    this.count++;
    this.startSweep();
    if (rc < 0) {
      this.deps.logger.debug({ errno: rc, route: config.name }, "udp session could not open");
      this.close(session, "error");
      return undefined;
    }
    if (!ip) this.resolve(session, target.host, port);
    return session;
  }

  /**
   * A target given by name: looked up per session, IPv4 as the dgram path's udp4 socket does, the
   * datagrams held meanwhile (at most QUEUE_MAX).
   */
  private resolve(session: Session, host: string, port: number): void {
    lookup(host, { family: 4 }, (err, address) => {
      const { share } = session;
      if (share.byId[session.id] !== session) return;
      const rc = err ? -1 : share.socket.connect(session.id, address, port);
      if (rc < 0) {
        this.deps.logger.debug({ err, host, route: share.route }, "udp session target did not resolve");
        this.close(session, "error");
        return;
      }
      const queued = session.queue ?? [];
      session.queue = null;
      for (const data of queued) share.socket.sendUpstream(session.id, data);
    });
  }

  private onSessionError(share: Share, id: number, errno: number): void {
    const session = share.byId[id];
    if (!session) return;
    // A connected UDP socket hears ICMP port unreachable as ECONNREFUSED: the target is down.
    const { route, state } = session.admitted;
    if (errno === constants.errno.ECONNREFUSED) route.targets.markDown(state);
    this.deps.logger.debug({ errno, route: share.route }, "udp session ended by an error");
    this.close(session, "error");
  }

  /** Folds the replies the addon counted since last time into the share's totals and the session's activity. */
  private settle(session: Session, now: number): void {
    const out = session.share.socket.replyCount(session.id);
    if (out !== session.seenOut) {
      session.share.out += (out - session.seenOut) >>> 0;
      session.seenOut = out;
      session.lastActive = now;
    }
    if (session.in !== session.seenIn) {
      session.seenIn = session.in;
      session.lastActive = now;
    }
  }

  /** The one place a session ends: out of the table, its socket closed by the addon, counts released. */
  private close(session: Session, end: SessionEnd): void {
    const { share } = session;
    if (share.byId[session.id] !== session) return;
    this.settle(session, Date.now());
    share.byId[session.id] = undefined;
    share.sessions.delete(session.key);
    share.free.push(session.id);
    share.socket.closeSession(session.id);
    this.limits.ended(session.admitted, end);
    this.count--;
    if (this.count === 0) this.stopSweep();
  }

  private closeShare(share: Share): void {
    if (!this.shares.delete(share)) return;
    for (const session of [...share.sessions.values()]) this.close(session, this.ending ?? "reload");
    this.flushShare(share);
    share.socket.close();
  }

  /** After a reload: sessions of routes that are gone (or no longer udp forwards) end. */
  reloaded(): void {
    const routes = this.deps.routes();
    for (const share of this.shares) {
      for (const session of [...share.sessions.values()]) {
        if (routes.get(session.admitted.route.config.name)?.config.protocol !== "udp")
          this.close(session, "reload");
      }
    }
  }

  closeAll(end: SessionEnd): void {
    if (end === "shutdown") this.ending = end;
    for (const share of this.shares)
      for (const session of [...share.sessions.values()]) this.close(session, end);
  }

  /** Adds the datagrams counted since the last flush to the metrics (prom-client's collect runs it). */
  private flush(): void {
    const now = Date.now();
    for (const share of this.shares) {
      for (const session of share.sessions.values()) this.settle(session, now);
      this.flushShare(share);
    }
  }

  private flushShare(share: Share): void {
    const { datagrams } = this.deps.metrics;
    if (share.in > 0) datagrams.inc({ route: share.route, direction: "in" }, share.in);
    if (share.out > 0) datagrams.inc({ route: share.route, direction: "out" }, share.out);
    share.in = 0;
    share.out = 0;
  }

  private startSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const share of this.shares) {
        // A Map's iteration goes on correctly past entries deleted during it (close deletes).
        for (const session of share.sessions.values()) {
          this.settle(session, now);
          if (session.idleTimeoutMs > 0 && now - session.lastActive >= session.idleTimeoutMs) {
            this.close(session, "idle");
          }
        }
      }
    }, SWEEP_MS);
    this.sweep.unref();
  }

  private stopSweep(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
