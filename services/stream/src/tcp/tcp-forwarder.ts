import { connect, isIP, type Socket } from "node:net";
import { type ConnMessage, closeFd } from "@switchyard/handoff";
import { encodeProxyV1, encodeProxyV2 } from "@switchyard/proxy-protocol";
import type { Logger } from "@switchyard/runtime";
import { type ForwardRoute, targetPort } from "../config.js";
import { ConnectTimeoutError, NoTargetError, UnknownRouteError } from "../errors.js";
import type { StreamMetrics } from "../metrics.js";
import type { Relay } from "../relay/relay.js";
import type { TargetPool, TargetState } from "../targets/target-pool.js";

/** A forward route with its targets' live state. */
export interface LiveRoute {
  config: ForwardRoute;
  targets: TargetPool;
}

export interface TcpForwarderDeps {
  relay: Relay;
  metrics: StreamMetrics;
  logger: Logger;
  /** The current routes by name; read once per connection, so a reload applies to new ones. */
  routes: () => ReadonlyMap<string, LiveRoute>;
}

function swallow(): void {}

/**
 * A handed-off TCP connection of a forward route: connects to the route's least-loaded healthy
 * target (the next one when it refuses or times out, each at most once), writes the PROXY header
 * and the bytes the edge read, and gives both fds to the relay. When no target can be reached the
 * client is closed at once, having read nothing. `ended` runs once, whatever the ending.
 */
export class TcpForwarder {
  constructor(private readonly deps: TcpForwarderDeps) {}

  accept(
    fd: number,
    replay: Buffer,
    info: ConnMessage,
    ended: (bytesIn: number, bytesOut: number) => void,
  ): void {
    const { metrics, logger } = this.deps;
    const route = this.deps.routes().get(info.route);
    if (route?.config.protocol !== "tcp") {
      closeFd(fd);
      metrics.refused(info.route, "unknown-route");
      logger.warn({ err: new UnknownRouteError(info.route), conn: info.id }, "closed a connection");
      ended(0, 0);
      return;
    }
    const tried = new Set<TargetState>();
    const attempt = () => {
      const state = route.targets.pick(tried);
      if (!state) {
        closeFd(fd);
        metrics.refused(route.config.name, "no-target");
        logger.debug({ err: new NoTargetError(route.config.name), conn: info.id }, "refused a connection");
        ended(0, 0);
        return;
      }
      tried.add(state);
      if (this.deps.relay.connectAndRelay && isIP(state.target.host) !== 0) {
        if (this.nativeConnect(route, state, fd, replay, info, ended, attempt)) return;
        return attempt();
      }
      this.connectTo(route, state, info, (upstream) => {
        if (!upstream) return attempt();
        this.relay(route, state, fd, upstream, replay, info, ended);
      });
    };
    attempt();
  }

  /**
   * The relay thread connects to an IP target itself (no Node socket per connection). False when
   * the connect failed at once; a later refusal or timeout calls `next` with the client fd open.
   */
  private nativeConnect(
    route: LiveRoute,
    state: TargetState,
    fd: number,
    replay: Buffer,
    info: ConnMessage,
    ended: (bytesIn: number, bytesOut: number) => void,
    next: () => void,
  ): boolean {
    const { config } = route;
    const { metrics, relay } = this.deps;
    const port = targetPort(config, state.target, info.local.port);
    const prefix = routePrefix(config, info, replay);
    state.active++;
    const options = {
      idleTimeoutMs: config.idleTimeoutMs,
      halfOpen: config.halfOpen,
      connectTimeoutMs: config.connectTimeoutMs,
    };
    const rc = relay.connectAndRelay!(fd, state.target.host, port, prefix, options, (result) => {
      state.active--;
      if (result.end === "connect-failed" || result.end === "connect-timeout") {
        metrics.abandoned(config.name);
        route.targets.markDown(state);
        metrics.connectFailed(config.name, result.end === "connect-timeout" ? "timeout" : "refused");
        return next();
      }
      route.targets.markUp(state);
      const bytesIn = replay.length + result.bytesIn;
      metrics.closed(config.name, result.end, bytesIn, result.bytesOut);
      ended(bytesIn, result.bytesOut);
    });
    if (rc !== 0) {
      state.active--;
      route.targets.markDown(state);
      metrics.connectFailed(config.name, "refused");
      return false;
    }
    // Counted open from the connect on (the relay thread says nothing until the end).
    metrics.opened(config.name);
    return true;
  }

  private connectTo(
    route: LiveRoute,
    state: TargetState,
    info: ConnMessage,
    then: (upstream: Socket | undefined) => void,
  ): void {
    const { config } = route;
    const host = state.target.host;
    const port = targetPort(config, state.target, info.local.port);
    const upstream = connect({ host, port, allowHalfOpen: true });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      upstream.destroy();
      route.targets.markDown(state);
      const timedOut = err instanceof ConnectTimeoutError;
      this.deps.metrics.connectFailed(config.name, timedOut ? "timeout" : "refused");
      this.deps.logger.debug({ err, route: config.name, conn: info.id }, "target unreachable");
      then(undefined);
    };
    const timer = setTimeout(
      () => fail(new ConnectTimeoutError(`${host}:${port}`, config.connectTimeoutMs)),
      config.connectTimeoutMs,
    );
    upstream.once("error", fail);
    upstream.once("connect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      upstream.removeListener("error", fail);
      upstream.on("error", swallow);
      route.targets.markUp(state);
      then(upstream);
    });
  }

  private relay(
    route: LiveRoute,
    state: TargetState,
    fd: number,
    upstream: Socket,
    replay: Buffer,
    info: ConnMessage,
    ended: (bytesIn: number, bytesOut: number) => void,
  ): void {
    const { config } = route;
    const { metrics } = this.deps;
    state.active++;
    metrics.opened(config.name);
    const prefix = routePrefix(config, info, replay);
    this.deps.relay.relay(
      fd,
      upstream,
      prefix,
      { idleTimeoutMs: config.idleTimeoutMs, halfOpen: config.halfOpen },
      (result) => {
        state.active--;
        const bytesIn = replay.length + result.bytesIn;
        metrics.closed(config.name, result.end, bytesIn, result.bytesOut);
        ended(bytesIn, result.bytesOut);
      },
    );
  }
}

/**
 * What goes to the target before the client's next bytes: the PROXY header (the client as the edge
 * saw it) when the route sends one, then the bytes the edge read to route.
 */
function routePrefix(config: ForwardRoute, info: ConnMessage, replay: Buffer): Buffer {
  if (config.proxyProtocol === "none") return replay;
  const source = { source: info.remote, destination: info.local };
  const header = config.proxyProtocol === "v1" ? encodeProxyV1(source) : encodeProxyV2(source);
  return replay.length === 0 ? header : Buffer.concat([header, replay]);
}
