import { Counter, Gauge, type Registry } from "prom-client";

/** Every metric the edge exports (`switchyard_edge_*`), registered once on the service's registry. */
export class EdgeMetrics {
  /** Connections accepted, by route and outcome (handed-off, forwarded, refused reasons, closes). */
  readonly connections: Counter<"route" | "outcome">;
  /** Connections open per route: handed off and not yet reported closed, or forwarded. */
  readonly active: Gauge<"route">;
  /** Bytes per route and direction: forwarded by the edge, or reported by workers. */
  readonly bytes: Counter<"route" | "direction">;

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
}
