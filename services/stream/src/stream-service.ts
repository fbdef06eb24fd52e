import { POOLS, ROUTE_ROLES } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { EdgeWorker, type UdpShareInfo } from "@switchyard/worker";
import type { StreamSettings } from "./config.js";
import type { StreamMetrics } from "./metrics.js";
import { PipeRelay } from "./relay/pipe-relay.js";
import type { Relay } from "./relay/relay.js";
import { SpliceRelay } from "./relay/splice-relay.js";
import { TargetPool } from "./targets/target-pool.js";
import { type LiveRoute, TcpForwarder } from "./tcp/tcp-forwarder.js";
import { UdpBatchForwarder } from "./udp/batch-forwarder.js";
import { UdpForwarder } from "./udp/udp-forwarder.js";

export interface StreamServiceDeps {
  edge: string;
  token: string;
  logger: Logger;
  metrics: StreamMetrics;
  instance?: string;
  /** The udp-batch addon when `stream.udp` is batch and it loaded (loadUdpBatch); else UDP goes through dgram. */
  udpBatch?: typeof import("@switchyard/udp-batch") | undefined;
}

/**
 * One stream worker: joins the edge's `stream` pool, relays the TCP connections of forward routes
 * it is handed (splice in native code, or Node pipes), and forwards the datagrams of udp forward
 * routes that arrive on the edge's shared sockets.
 */
export class StreamService {
  readonly relay: Relay;
  readonly udp: UdpForwarder;
  readonly udpBatch: UdpBatchForwarder | undefined;
  private routes = new Map<string, LiveRoute>();
  private readonly worker: EdgeWorker;

  constructor(
    settings: StreamSettings,
    private readonly deps: StreamServiceDeps,
  ) {
    this.relay = settings.relay === "splice" ? SpliceRelay.get(settings.relayThreads) : new PipeRelay();
    this.routes = liveRoutes(settings);
    const tcp = new TcpForwarder({
      relay: this.relay,
      metrics: deps.metrics,
      logger: deps.logger,
      routes: () => this.routes,
    });
    const routes = () => this.routes;
    this.udp = new UdpForwarder({ metrics: deps.metrics, logger: deps.logger, routes });
    const batch = deps.udpBatch
      ? new UdpBatchForwarder({ addon: deps.udpBatch, metrics: deps.metrics, logger: deps.logger, routes })
      : undefined;
    this.udpBatch = batch;
    this.worker = new EdgeWorker({
      edge: deps.edge,
      token: deps.token,
      role: ROUTE_ROLES.forward,
      pool: POOLS.stream,
      logger: deps.logger,
      ...(deps.instance ? { instance: deps.instance } : {}),
      onConnection: (socket) => socket.destroy(),
      onConnectionFd: (fd, replay, info, ended) => tcp.accept(fd, replay, info, ended),
      // A socket the batched path cannot take (or every socket, with `stream.udp: dgram`) goes to dgram.
      ...(batch ? { adoptUdp: (share: UdpShareInfo) => batch.adopt(share) } : {}),
      onUdpSockets: (shares) => this.udp.serve(shares),
    });
  }

  start(): void {
    this.worker.start();
  }

  async waitAttached(): Promise<void> {
    await this.worker.waitAttached();
  }

  /** New connections and datagrams use the new routes; open ones keep what they have. */
  reload(next: StreamSettings): void {
    this.routes = liveRoutes(next, this.routes);
    this.udp.reloaded();
    this.udpBatch?.reloaded();
  }

  /** Leaves the pool, lets open connections finish until the deadline, then closes what is left. */
  async drain(deadlineMs: number): Promise<void> {
    const udpSessions = this.udp.size + (this.udpBatch?.size ?? 0);
    this.closeUdp();
    await this.worker.leave();
    this.closeUdp();
    const until = Date.now() + deadlineMs;
    while (this.relay.active > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const left = this.relay.active;
    this.relay.closeAll();
    this.deps.logger.info({ left, udpSessions }, "forward connections drained");
  }

  async stop(): Promise<void> {
    this.closeUdp();
    await this.worker.stop();
    this.closeUdp();
    this.relay.closeAll();
  }

  /** Every UDP session ends as "shutdown" (before leaving, so the shared sockets' close finds none, and after). */
  private closeUdp(): void {
    this.udp.closeAll("shutdown");
    this.udpBatch?.closeAll("shutdown");
  }

  get udpKind(): string {
    return this.udpBatch ? "batch" : "dgram";
  }

  get relayKind(): string {
    return this.relay.kind;
  }

  /** The running routes with their target pools (StreamAdmin reads them). */
  get liveRoutes(): ReadonlyMap<string, LiveRoute> {
    return this.routes;
  }

  get routeNames(): string[] {
    return [...this.routes.keys()];
  }
}

/** The routes with their target pools; a route whose targets did not change keeps its pool's state. */
function liveRoutes(
  settings: StreamSettings,
  previous?: ReadonlyMap<string, LiveRoute>,
): Map<string, LiveRoute> {
  const out = new Map<string, LiveRoute>();
  for (const [name, config] of settings.routes) {
    const old = previous?.get(name);
    const same = old && JSON.stringify(old.config.targets) === JSON.stringify(config.targets);
    out.set(name, {
      config,
      targets: same ? old.targets : new TargetPool(config.targets, settings.targetRetryMs),
    });
  }
  return out;
}
