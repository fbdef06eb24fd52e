import type { streamV1 } from "@switchyard/proto";
import type { ServiceImplementation } from "@switchyard/runtime";
import type { StreamMetrics } from "./metrics.js";
import type { LiveRoute } from "./tcp/tcp-forwarder.js";

export interface StreamAdminDeps {
  /** The running routes (they change on reload). */
  routes(): ReadonlyMap<string, LiveRoute>;
  metrics: StreamMetrics;
  now?: () => number;
}

/** StreamAdmin: the worker's forward routes, their targets' health and load, and their counters. */
export function createStreamAdmin(deps: StreamAdminDeps): ServiceImplementation<streamV1.StreamAdminService> {
  const now = deps.now ?? Date.now;
  return {
    async listRoutes() {
      const totals = await deps.metrics.routeTotals();
      const at = now();
      return {
        routes: [...deps.routes().values()].map(({ config, targets }) => {
          const t = totals.get(config.name);
          return {
            name: config.name,
            protocol: config.protocol,
            proxyProtocol: config.proxyProtocol,
            targets: targets.states.map((s) => ({
              address: `${s.target.host}:${s.target.port}`,
              up: s.downUntil <= at,
              active: s.active,
            })),
            active: t?.active ?? 0,
            ended: t?.ended ?? 0,
            relayedIn: t?.in ?? 0,
            relayedOut: t?.out ?? 0,
            refused: t?.refused ?? 0,
            connectFailures: t?.connectFailures ?? 0,
          };
        }),
      };
    },
  };
}
