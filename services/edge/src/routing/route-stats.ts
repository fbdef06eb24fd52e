import type { Counter, Gauge } from "prom-client";
import type { EdgeMetrics } from "../metrics.js";

interface RouteMetrics {
  active: ReturnType<Gauge<"route">["labels"]>;
  bytesIn: ReturnType<Counter<"route" | "direction">["labels"]>;
  bytesOut: ReturnType<Counter<"route" | "direction">["labels"]>;
  outcomes: Map<string, ReturnType<Counter<"route" | "outcome">["labels"]>>;
}

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
  /** Label children per route: resolving labels on every connection costs more than the work itself. */
  private readonly metrics = new Map<string, RouteMetrics>();
  private readonly connections: Counter<"route" | "outcome">;
  private readonly active: Gauge<"route">;
  private readonly bytes: Counter<"route" | "direction">;

  constructor(metrics: EdgeMetrics) {
    this.connections = metrics.connections;
    this.active = metrics.active;
    this.bytes = metrics.bytes;
  }

  private get(route: string): RouteCounters {
    let c = this.routes.get(route);
    if (!c) {
      c = { active: 0, total: 0, refused: 0, bytesIn: 0, bytesOut: 0 };
      this.routes.set(route, c);
    }
    return c;
  }

  private metricsOf(route: string): RouteMetrics {
    let m = this.metrics.get(route);
    if (!m) {
      m = {
        active: this.active.labels(route),
        bytesIn: this.bytes.labels(route, "in"),
        bytesOut: this.bytes.labels(route, "out"),
        outcomes: new Map(),
      };
      this.metrics.set(route, m);
    }
    return m;
  }

  private countOutcome(route: string, outcome: string): void {
    const m = this.metricsOf(route);
    let counter = m.outcomes.get(outcome);
    if (!counter) {
      counter = this.connections.labels(route, outcome);
      m.outcomes.set(outcome, counter);
    }
    counter.inc();
  }

  opened(route: string): void {
    const c = this.get(route);
    c.active++;
    c.total++;
    this.metricsOf(route).active.inc();
  }

  closed(route: string, outcome: string, bytesIn = 0, bytesOut = 0): void {
    const c = this.get(route);
    c.active--;
    c.bytesIn += bytesIn;
    c.bytesOut += bytesOut;
    const m = this.metricsOf(route);
    m.active.dec();
    this.countOutcome(route, outcome);
    if (bytesIn > 0) m.bytesIn.inc(bytesIn);
    if (bytesOut > 0) m.bytesOut.inc(bytesOut);
  }

  /** A connection refused before it was opened on the route (policy, limits, no route). */
  refused(route: string, reason: string): void {
    this.get(route).refused++;
    this.countOutcome(route, reason);
  }

  snapshot(): Array<RouteCounters & { route: string }> {
    return [...this.routes].map(([route, c]) => ({ route, ...c }));
  }
}
