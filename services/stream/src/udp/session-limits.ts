import type { StreamMetrics } from "../metrics.js";
import type { TargetState } from "../targets/target-pool.js";
import type { LiveRoute } from "../tcp/tcp-forwarder.js";

export type SessionEnd = "idle" | "shutdown" | "reload" | "error";

/** A client address as a session table keys it: a number (IPv4) or a string (IPv6, or dgram's text). */
export type ClientKey = number | string;

/** What a session was admitted with; given back to `ended` when it ends. */
export interface Admitted {
  route: LiveRoute;
  state: TargetState;
  clientKey: ClientKey;
}

/**
 * The bounds every UDP session path keeps (the dgram one and the batched one): a session is
 * admitted only for a udp forward route that exists, under the route's `maxSessions` and its
 * client address's `maxSessionsPerClient`, to an up target; a refusal is counted by reason.
 * `opened` and `ended` keep the counts, the target's load and the metrics, one call each per session.
 */
export class SessionLimits {
  private readonly perRoute = new Map<string, number>();
  private readonly perClient = new Map<string, Map<ClientKey, number>>();

  constructor(
    private readonly metrics: StreamMetrics,
    private readonly routes: () => ReadonlyMap<string, LiveRoute>,
  ) {}

  admit(routeName: string, clientKey: ClientKey): Admitted | undefined {
    const { metrics } = this;
    const route = this.routes().get(routeName);
    if (route?.config.protocol !== "udp") {
      metrics.refused(routeName, "unknown-route");
      return undefined;
    }
    const { config } = route;
    if ((this.perRoute.get(config.name) ?? 0) >= config.maxSessions) {
      metrics.refused(config.name, "route-sessions");
      return undefined;
    }
    if ((this.perClient.get(config.name)?.get(clientKey) ?? 0) >= config.maxSessionsPerClient) {
      metrics.refused(config.name, "client-sessions");
      return undefined;
    }
    const state = route.targets.pick();
    if (!state) {
      metrics.refused(config.name, "no-target");
      return undefined;
    }
    return { route, state, clientKey };
  }

  opened({ route, state, clientKey }: Admitted): void {
    const name = route.config.name;
    this.perRoute.set(name, (this.perRoute.get(name) ?? 0) + 1);
    const clients = this.perClient.get(name) ?? new Map<ClientKey, number>();
    this.perClient.set(name, clients);
    clients.set(clientKey, (clients.get(clientKey) ?? 0) + 1);
    state.active++;
    this.metrics.sessionsActive.inc({ route: name });
  }

  ended({ route, state, clientKey }: Admitted, end: SessionEnd): void {
    const name = route.config.name;
    decrement(this.perRoute, name);
    const clients = this.perClient.get(name);
    if (clients) {
      decrement(clients, clientKey);
      if (clients.size === 0) this.perClient.delete(name);
    }
    state.active--;
    this.metrics.sessionsActive.dec({ route: name });
    this.metrics.sessions.inc({ route: name, end });
  }
}

function decrement<K>(map: Map<K, number>, key: K): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
