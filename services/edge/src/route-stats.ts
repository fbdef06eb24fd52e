import { Counter, Gauge, type Registry } from "prom-client";

export interface RouteCounters {
  active: number;
  total: number;
  refused: number;
  bytesIn: number;
  bytesOut: number;
}

/** Per-route counters for GetStats, mirrored into Prometheus metrics. */
export class RouteStats {
  private readonly routes = new Map<string, RouteCounters>();
  private readonly connections: Counter<"route" | "outcome">;
  private readonly active: Gauge<"route">;
  private readonly bytes: Counter<"route" | "direction">;

  constructor(registry: Registry) {
    this.connections = new Counter({
      name: "switchyard_edge_connections_total",
      help: "Connections accepted by the edge, by route and outcome",
      labelNames: ["route", "outcome"],
      registers: [registry],
    });
    this.active = new Gauge({
      name: "switchyard_edge_connections_active",
      help: "Connections open per route (handed off and not yet reported closed, or forwarded)",
      labelNames: ["route"],
      registers: [registry],
    });
    this.bytes = new Counter({
      name: "switchyard_edge_bytes_total",
      help: "Bytes moved per route: forwarded by the edge, or reported by workers",
      labelNames: ["route", "direction"],
      registers: [registry],
    });
  }

  private get(route: string): RouteCounters {
    let c = this.routes.get(route);
    if (!c) {
      c = { active: 0, total: 0, refused: 0, bytesIn: 0, bytesOut: 0 };
      this.routes.set(route, c);
    }
    return c;
  }

  opened(route: string): void {
    const c = this.get(route);
    c.active++;
    c.total++;
    this.active.inc({ route });
  }

  closed(route: string, outcome: string, bytesIn = 0, bytesOut = 0): void {
    const c = this.get(route);
    c.active--;
    c.bytesIn += bytesIn;
    c.bytesOut += bytesOut;
    this.active.dec({ route });
    this.connections.inc({ route, outcome });
    if (bytesIn > 0) this.bytes.inc({ route, direction: "in" }, bytesIn);
    if (bytesOut > 0) this.bytes.inc({ route, direction: "out" }, bytesOut);
  }

  /** A connection refused before it was opened on the route (policy, limits, no route). */
  refused(route: string, reason: string): void {
    this.get(route).refused++;
    this.connections.inc({ route, outcome: reason });
  }

  snapshot(): Array<RouteCounters & { route: string }> {
    return [...this.routes].map(([route, c]) => ({ route, ...c }));
  }
}
