import { createHash } from "node:crypto";
import { ConfigError, type LoadedConfig, routePool } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import type { Registry } from "prom-client";
import { type InheritedSockets, Listeners } from "./accept/listeners.js";
import type { EdgeSettings } from "./config.js";
import { HandoffDispatcher } from "./handoff/handoff-dispatcher.js";
import { HandoffServer } from "./handoff/handoff-server.js";
import { WorkerRegistry } from "./handoff/worker-registry.js";
import { EdgeMetrics } from "./metrics.js";
import { Admission } from "./policy/admission.js";
import { ConnectionRouter, type RouterState } from "./routing/connection-router.js";
import { RouteStats } from "./routing/route-stats.js";
import type { CompiledRoute } from "./routing/route-table.js";
import type { HandedOverWorker } from "./upgrade/upgrade-messages.js";

export interface EdgeStartOptions {
  /** Listening sockets handed over by a predecessor (upgrade) or a supervisor: used instead of binding. */
  inherited?: InheritedSockets;
  /** Workers a predecessor vouched for: they attach with the token it gave them. */
  workers?: HandedOverWorker[];
  /** Start with accepting paused (resume() once the workers are attached). */
  paused?: boolean;
}

export interface EdgeDeps {
  logger: Logger;
  metrics: Registry;
  /** Several fds per sendmsg when one turn hands several connections to one worker (default false). */
  batchHandoffs?: boolean;
}

function swallow(): void {}

/**
 * The edge: owns the public sockets, decides where each connection goes, hands it over, and gets
 * out of the way. Reloads swap the route table for new connections only.
 */
export class Edge {
  readonly registry = new WorkerRegistry();
  readonly stats: RouteStats;
  readonly dispatcher: HandoffDispatcher;
  readonly handoff: HandoffServer;
  private readonly listeners: Listeners;
  private readonly admission: Admission;
  private readonly router: ConnectionRouter;
  private routerState: RouterState;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  readonly startedAt = Date.now();

  constructor(
    private settings: EdgeSettings,
    deps: EdgeDeps,
  ) {
    this.logger = deps.logger;
    this.stats = new RouteStats(new EdgeMetrics(deps.metrics));
    this.routerState = settings.routing;
    this.admission = new Admission(settings.clients);
    this.dispatcher = new HandoffDispatcher(this.registry, this.logger, deps.batchHandoffs ?? false);
    this.dispatcher.configureWaiting(settings.handoff.waiting);
    this.router = new ConnectionRouter({
      admission: this.admission,
      stats: this.stats,
      dispatcher: this.dispatcher,
      logger: this.logger,
      state: () => this.routerState,
    });
    this.listeners = new Listeners(
      (fd, remoteIp, remotePort, localIp, localPort) =>
        this.router.onAccepted(fd, remoteIp, remotePort, localIp, localPort),
      this.logger,
      (pool) => this.handoff.sendUdpToPool(pool),
    );
    this.handoff = new HandoffServer({
      ...settings.handoff,
      registry: this.registry,
      dispatcher: this.dispatcher,
      udp: {
        udpFor: (pool) => this.listeners.udpFor(pool),
        adopt: (pool, presented) => this.listeners.adoptUdp(pool, presented),
      },
      logger: this.logger,
    });
  }

  get routes(): readonly CompiledRoute[] {
    return this.routerState.table.routes;
  }

  get currentConfig(): LoadedConfig {
    return this.settings.config;
  }

  /**
   * Connections still in the edge's hands (being routed, or waiting for a worker), and handoff
   * records: all return to 0 when idle.
   */
  get openRecords(): { pending: number; handedOff: number; admission: number } {
    return {
      pending: this.router.pending.size + this.dispatcher.waiting,
      handedOff: this.dispatcher.openRecords,
      admission: this.admission.size,
    };
  }

  /** What the edge listens on, for the start-up log and tests. */
  listening(): { tcp: string[]; udp: string[] } {
    return {
      tcp: this.listeners.tcpAddresses().map((a) => `${a.address}:${a.port}`),
      udp: this.routerState.table.udpRoutes().map((u) => `${u.port}->${u.route.name}`),
    };
  }

  async start(options: EdgeStartOptions = {}): Promise<void> {
    if (options.paused) this.listeners.pause();
    for (const w of options.workers ?? []) this.registry.adoptHandedOver(w);
    this.handoff.start();
    await this.applyListeners(options.inherited);
    const { heartbeatTimeoutMs } = this.settings.workers;
    this.sweepTimer = setInterval(
      () => {
        for (const id of this.registry.sweep(heartbeatTimeoutMs, 10_000)) {
          this.logger.info({ worker: id }, "forgot a registration that never attached");
        }
        // Attach, recovery and freed slots wake waiting connections at once; this catches the rest.
        this.dispatcher.wake();
      },
      Math.min(1000, heartbeatTimeoutMs / 2),
    );
    this.sweepTimer.unref();
  }

  /** Resolves once every pool a route hands off to has a ready worker, or at the deadline. */
  async waitForWorkers(timeoutMs: number): Promise<void> {
    const pools = new Set(
      this.settings.config.effectiveRoutes.flatMap((r) =>
        r.action.type === "handoff" ? [r.action.pool] : [],
      ),
    );
    const until = Date.now() + timeoutMs;
    const missing = () => [...pools].filter((p) => !this.registry.pick(p));
    while (missing().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const late = missing();
    if (late.length > 0)
      this.logger.warn({ pools: late }, "accepting although these pools have no ready worker yet");
  }

  /** Accepts again after start({ paused: true }). */
  resume(): void {
    this.listeners.resume();
  }

  /** The listening sockets with their fds, for a successor edge. */
  handoverSockets(): InheritedSockets {
    return this.listeners.handover();
  }

  /** Which route table this edge runs: a successor logs whether its own (read from disk) differs. */
  routeDigest(): { count: number; digest: string } {
    const routes = this.settings.config.effectiveRoutes;
    const digest = createHash("sha256").update(JSON.stringify(routes)).digest("hex").slice(0, 16);
    return { count: routes.length, digest };
  }

  private async applyListeners(inherited?: InheritedSockets): Promise<void> {
    const { table } = this.routerState;
    const udp = table
      .udpRoutes()
      .flatMap(({ port, route }) => (route.pool ? [{ port, route: route.name, pool: route.pool }] : []));
    await this.listeners.apply(this.settings.addresses, table.tcpPorts(), udp, inherited);
  }

  /** Applies new settings to new connections; established ones are untouched. */
  async reload(next: EdgeSettings): Promise<void> {
    this.refuseOrphanedPools(next);
    const previous = this.settings;
    this.settings = next;
    this.routerState = next.routing;
    this.admission.configure(next.clients);
    this.dispatcher.configureWaiting(next.handoff.waiting);
    try {
      await this.applyListeners();
    } catch (err) {
      this.settings = previous;
      this.routerState = previous.routing;
      this.admission.configure(previous.clients);
      this.dispatcher.configureWaiting(previous.handoff.waiting);
      await this.applyListeners().catch(swallow);
      throw err;
    }
    // Pools may have gained or lost UDP ports.
    for (const worker of this.registry.list()) if (worker.channel) this.handoff.sendUdp(worker);
  }

  /**
   * A reload that leaves a pool with attached workers without a single route (a truncated file
   * that lost a section still parses) is refused like an invalid file, unless
   * `edge.allowEmptyRoutes` says it is meant: stop the pool's workers first, or set it.
   */
  private refuseOrphanedPools(settings: EdgeSettings): void {
    if (settings.allowEmptyRoutes) return;
    const next = settings.config;
    const routed = new Set(next.effectiveRoutes.flatMap((r) => routePool(r) ?? []));
    // Only pools the running config routes to can be orphaned: a pool that had no route (a stream
    // worker started with a config without forward routes) loses nothing.
    const before = new Set(this.settings.config.effectiveRoutes.flatMap((r) => routePool(r) ?? []));
    const orphaned = new Map<string, number>();
    for (const worker of this.registry.list())
      if (before.has(worker.pool) && !routed.has(worker.pool))
        orphaned.set(worker.pool, (orphaned.get(worker.pool) ?? 0) + 1);
    if (orphaned.size === 0) return;
    throw new ConfigError(
      `${next.source} would leave attached workers without routes`,
      [...orphaned].map(
        ([pool, workers]) =>
          `${next.source}: no route hands off to pool ${pool}, which has ${workers} attached worker(s); ` +
          "stop them first, or set edge.allowEmptyRoutes: true to remove their routes anyway",
      ),
    );
  }

  /** Stops accepting, then waits (up to the deadline) for connections still being routed. */
  async drain(deadlineMs: number): Promise<void> {
    await this.listeners.close();
    const until = Date.now() + deadlineMs;
    while (this.router.pending.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.listeners.close();
    this.router.closeAll();
    this.dispatcher.refuseWaiting();
    this.handoff.close();
    for (const w of this.registry.list()) w.channel?.close();
  }

  /**
   * Drains a worker. With `replace`, the last ready worker of its pool keeps taking connections
   * ("replacing") until a successor of the pool attaches, and drains then (HandoffServer).
   */
  drainWorker(id: string, options: { replace?: boolean } = {}): "draining" | "replacing" | undefined {
    const worker = this.registry.get(id);
    if (!worker) return undefined;
    if (options.replace && this.registry.isLastReady(worker)) {
      this.registry.replace(id);
      this.logger.info(
        { worker: id, pool: worker.pool },
        "worker replacing: drains once a successor attaches",
      );
      return "replacing";
    }
    this.registry.drain(id);
    this.handoff.requestDrain(worker);
    return "draining";
  }
}
