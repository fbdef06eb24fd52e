import type { Socket } from "node:net";
import { CidrSet, normalizeIp } from "@switchyard/cidr";
import type { LoadedConfig } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import type { Registry } from "prom-client";
import { Admission } from "./admission.js";
import { type IntakeFailure, takeIn } from "./connection-intake.js";
import { ConnectionLease } from "./connection-lease.js";
import { forward } from "./forward-proxy.js";
import { HandoffDispatcher } from "./handoff-dispatcher.js";
import { HandoffServer } from "./handoff-server.js";
import { Listeners } from "./listeners.js";
import { refuse } from "./refusal.js";
import { RouteStats } from "./route-stats.js";
import { type CompiledRoute, RouteTable } from "./route-table.js";
import { WorkerRegistry } from "./worker-registry.js";

export interface EdgeDeps {
  logger: Logger;
  metrics: Registry;
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
  private table: RouteTable;
  private trustedProxies: CidrSet | null;
  private readonly pending = new Set<Socket>();
  private readonly forwarded = new Set<Socket>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  readonly startedAt = Date.now();

  constructor(
    private config: LoadedConfig,
    deps: EdgeDeps,
  ) {
    this.logger = deps.logger;
    this.stats = new RouteStats(deps.metrics);
    this.table = new RouteTable(config);
    this.admission = new Admission(config.edge);
    this.trustedProxies = trusted(config);
    this.dispatcher = new HandoffDispatcher(this.registry, this.logger);
    this.listeners = new Listeners((socket, port) => this.onConnection(socket, port), this.logger);
    this.handoff = new HandoffServer({
      path: config.edge.handoff.socket,
      mode: Number.parseInt(config.edge.handoff.mode, 8),
      allowedUids: config.edge.handoff.allowedUids,
      maxQueuedPerWorker: config.edge.handoff.maxQueuedPerWorker,
      registry: this.registry,
      dispatcher: this.dispatcher,
      udp: { udpFor: (pool) => this.listeners.udpFor(pool) },
      logger: this.logger,
    });
  }

  get routes(): readonly CompiledRoute[] {
    return this.table.routes;
  }

  get currentConfig(): LoadedConfig {
    return this.config;
  }

  /** Connections still being routed, forwarded by the edge, and handoff records: all return to 0 when idle. */
  get openRecords(): { pending: number; forwarded: number; handedOff: number; admission: number } {
    return {
      pending: this.pending.size,
      forwarded: this.forwarded.size,
      handedOff: this.dispatcher.openRecords,
      admission: this.admission.size,
    };
  }

  /** What the edge listens on, for the start-up log and tests. */
  listening(): { tcp: string[]; udp: string[] } {
    return {
      tcp: this.listeners.tcpAddresses().map((a) => `${a.address}:${a.port}`),
      udp: this.table.udpRoutes().map((u) => `${u.port}->${u.route.name}`),
    };
  }

  async start(): Promise<void> {
    this.handoff.start();
    await this.applyListeners();
    const { heartbeatTimeoutMs } = this.config.edge.workers;
    this.sweepTimer = setInterval(
      () => {
        for (const id of this.registry.sweep(heartbeatTimeoutMs, 10_000)) {
          this.logger.info({ worker: id }, "forgot a registration that never attached");
        }
      },
      Math.min(1000, heartbeatTimeoutMs / 2),
    );
    this.sweepTimer.unref();
  }

  private async applyListeners(): Promise<void> {
    const udp = this.table
      .udpRoutes()
      .flatMap(({ port, route }) =>
        route.action.type === "handoff" ? [{ port, route: route.name, pool: route.action.pool }] : [],
      );
    await this.listeners.apply(this.config.edge.addresses, this.table.tcpPorts(), udp);
  }

  /** Applies a validated config to new connections; established ones are untouched. */
  async reload(next: LoadedConfig): Promise<void> {
    const previous = { config: this.config, table: this.table, trusted: this.trustedProxies };
    this.config = next;
    this.table = new RouteTable(next);
    this.trustedProxies = trusted(next);
    this.admission.configure(next.edge);
    try {
      await this.applyListeners();
    } catch (err) {
      this.config = previous.config;
      this.table = previous.table;
      this.trustedProxies = previous.trusted;
      this.admission.configure(previous.config.edge);
      await this.applyListeners().catch(swallow);
      throw err;
    }
    // Pools may have gained or lost UDP ports.
    for (const worker of this.registry.list()) if (worker.channel) this.handoff.sendUdp(worker);
  }

  /** Stops accepting, then waits (up to the deadline) for connections the edge itself carries. */
  async drain(deadlineMs: number): Promise<void> {
    await this.listeners.close();
    const until = Date.now() + deadlineMs;
    while ((this.pending.size > 0 || this.forwarded.size > 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.listeners.close();
    for (const s of this.pending) s.destroy();
    for (const s of this.forwarded) s.destroy();
    this.handoff.close();
    for (const w of this.registry.list()) w.channel?.close();
  }

  drainWorker(id: string): boolean {
    const worker = this.registry.drain(id);
    if (!worker) return false;
    this.handoff.requestDrain(worker);
    return true;
  }

  private onConnection(socket: Socket, port: number): void {
    socket.on("error", swallow);
    const peer = normalizeIp(socket.remoteAddress ?? "");
    if (!peer) {
      socket.destroy();
      return;
    }
    const acceptProxy = this.trustedProxies?.has(peer) ?? false;
    if (!acceptProxy) {
      const verdict = this.admission.checkClient(peer);
      if (verdict !== "ok") {
        this.stats.refused("(edge)", verdict);
        socket.destroy();
        return;
      }
    }
    const table = this.table;
    const { routingTimeoutMs, maxRoutingBytes } = this.config.edge.limits;
    this.pending.add(socket);
    takeIn(
      socket,
      {
        acceptProxy,
        inspect: table.portInspects(port),
        timeoutMs: routingTimeoutMs,
        maxBytes: maxRoutingBytes,
      },
      (err, intake) => {
        this.pending.delete(socket);
        if (err) return this.intakeFailed(socket, err, peer);
        const ip = intake.clientIp;
        if (acceptProxy) {
          const verdict = this.admission.checkClient(ip);
          if (verdict !== "ok") {
            this.stats.refused("(edge)", verdict);
            socket.destroy();
            return;
          }
        }
        const route = table.match({
          port,
          clientIp: ip,
          domain: intake.sni ?? intake.host,
          path: intake.path,
        });
        if (!route) {
          this.stats.refused("(none)", "no-route");
          refuse(socket, intake.http ? "http-404" : "close");
          return;
        }
        if (route.action.type === "block") {
          this.stats.refused(route.name, "blocked");
          socket.destroy();
          return;
        }
        const verdict = this.admission.checkRoute(route, ip);
        if (verdict !== "ok") {
          this.stats.refused(route.name, verdict);
          refuse(socket, verdict === "route-full" && intake.http ? "http" : "close");
          return;
        }
        const lease = new ConnectionLease(this.admission, this.stats, route.name, ip);
        const action = route.action;
        if (action.type === "forward") {
          this.forwarded.add(socket);
          forward(
            {
              socket,
              replay: intake.replay,
              clientIp: ip,
              clientPort: intake.clientPort,
              localIp: intake.localIp,
              localPort: intake.localPort,
            },
            action,
            (result) => {
              this.forwarded.delete(socket);
              if (result.error && !result.connected) {
                this.logger.debug({ err: result.error, route: route.name }, "forward target unreachable");
              }
              lease.release(
                result.connected ? "forwarded" : "forward-failed",
                result.bytesIn,
                result.bytesOut,
              );
            },
          );
          return;
        }
        if (action.type === "handoff") {
          this.dispatcher.dispatch({
            socket,
            route: route.name,
            pool: action.pool,
            refusal: route.refusal,
            intake,
            lease,
          });
        }
      },
    );
  }

  private intakeFailed(socket: Socket, err: IntakeFailure, peer: string): void {
    this.stats.refused("(edge)", err);
    if (err !== "closed") this.logger.debug({ peer, reason: err }, "connection closed before routing");
    socket.destroy();
  }
}

function trusted(config: LoadedConfig): CidrSet | null {
  return config.edge.proxyProtocol.trusted.length > 0 ? new CidrSet(config.edge.proxyProtocol.trusted) : null;
}
