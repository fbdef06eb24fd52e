import { Counter, Gauge, type Metric, type Registry } from "prom-client";
import type { RelayEnd } from "./relay/relay.js";

/**
 * A route's TCP numbers, kept in plain fields on the per-connection path (no label hashing per
 * connection) and published to the gauge and counters when they are read (scrape, StreamAdmin).
 */
class TcpCounts {
  active = 0;
  in = 0;
  out = 0;
  readonly ends = new Map<RelayEnd, number>();
  /** What the counters were last given. */
  inPublished = 0;
  outPublished = 0;
  readonly endsPublished = new Map<RelayEnd, number>();
}

/** Per-route counters of the stream pool (connections, sessions, bytes, refusals, timeouts). */
export class StreamMetrics {
  private readonly tcp = new Map<string, TcpCounts>();

  readonly connectionsActive: Gauge<"route">;
  readonly connections: Counter<"route" | "end">;
  readonly bytes: Counter<"route" | "direction">;
  readonly refusals: Counter<"route" | "reason">;
  readonly connectFailures: Counter<"route" | "reason">;
  readonly sessionsActive: Gauge<"route">;
  readonly sessions: Counter<"route" | "end">;
  readonly datagrams: Counter<"route" | "direction">;
  /** Run before the datagram counter is read: the batched UDP path adds what it counted since. */
  private readonly collectors = new Set<() => void>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.connectionsActive = new Gauge({
      name: "switchyard_stream_connections_active",
      help: "TCP forward connections open, per route",
      labelNames: ["route"],
      registers,
      collect: () => {
        for (const [route, t] of this.tcp) this.connectionsActive.set({ route }, t.active);
      },
    });
    this.connections = new Counter({
      name: "switchyard_stream_connections_total",
      help: "TCP forward connections relayed and ended, per route and ending (closed, both-closed, idle, error, shutdown)",
      labelNames: ["route", "end"],
      registers,
      collect: () => {
        for (const [route, t] of this.tcp) {
          for (const [end, n] of t.ends) {
            const delta = n - (t.endsPublished.get(end) ?? 0);
            if (delta > 0) this.connections.inc({ route, end }, delta);
            t.endsPublished.set(end, n);
          }
        }
      },
    });
    this.bytes = new Counter({
      name: "switchyard_stream_bytes_total",
      help: "Bytes relayed per route: in (client to target), out (target to client)",
      labelNames: ["route", "direction"],
      registers,
      collect: () => {
        for (const [route, t] of this.tcp) {
          if (t.in > t.inPublished) this.bytes.inc({ route, direction: "in" }, t.in - t.inPublished);
          if (t.out > t.outPublished) this.bytes.inc({ route, direction: "out" }, t.out - t.outPublished);
          t.inPublished = t.in;
          t.outPublished = t.out;
        }
      },
    });
    this.refusals = new Counter({
      name: "switchyard_stream_refusals_total",
      help: "Connections or datagrams refused, per route and reason (no-target, unknown-route, route-sessions, client-sessions)",
      labelNames: ["route", "reason"],
      registers,
    });
    this.connectFailures = new Counter({
      name: "switchyard_stream_connect_failures_total",
      help: "Connects to a target that failed, per route and reason (refused, timeout)",
      labelNames: ["route", "reason"],
      registers,
    });
    this.sessionsActive = new Gauge({
      name: "switchyard_stream_udp_sessions_active",
      help: "UDP forward sessions open, per route",
      labelNames: ["route"],
      registers,
    });
    this.sessions = new Counter({
      name: "switchyard_stream_udp_sessions_total",
      help: "UDP forward sessions ended, per route and ending (idle, shutdown, reload, error)",
      labelNames: ["route", "end"],
      registers,
    });
    this.datagrams = new Counter({
      name: "switchyard_stream_udp_datagrams_total",
      help: "UDP datagrams relayed per route: in (client to target), out (target to client)",
      labelNames: ["route", "direction"],
      registers,
      collect: () => {
        for (const collect of this.collectors) collect();
      },
    });
  }

  private counts(route: string): TcpCounts {
    let t = this.tcp.get(route);
    if (!t) {
      t = new TcpCounts();
      this.tcp.set(route, t);
    }
    return t;
  }

  /** A TCP connection of `route` is open (to a target, or connecting to one). */
  opened(route: string): void {
    this.counts(route).active++;
  }

  /** An opened connection whose connect failed: it is open no more and counts as no ending. */
  abandoned(route: string): void {
    this.counts(route).active--;
  }

  closed(route: string, end: RelayEnd, bytesIn: number, bytesOut: number): void {
    const t = this.counts(route);
    t.active--;
    t.ends.set(end, (t.ends.get(end) ?? 0) + 1);
    t.in += bytesIn;
    t.out += bytesOut;
  }

  refused(route: string, reason: string): void {
    this.refusals.inc({ route, reason });
  }

  connectFailed(route: string, reason: "refused" | "timeout"): void {
    this.connectFailures.inc({ route, reason });
  }

  /** `flush` runs whenever the metrics are read (a scrape, StreamAdmin): it adds counts kept elsewhere. */
  onCollect(flush: () => void): void {
    this.collectors.add(flush);
  }

  /** Each route's numbers since start, summed over the other labels (for StreamAdmin). */
  async routeTotals(): Promise<Map<string, RouteTotals>> {
    const totals = new Map<string, RouteTotals>();
    const add = async (metric: Metric, field: keyof RouteTotals, only?: (labels: Labels) => boolean) => {
      for (const { labels, value } of (await metric.get()).values) {
        const route = String(labels["route"] ?? "");
        if (only && !only(labels)) continue;
        const t = totals.get(route) ?? { active: 0, ended: 0, in: 0, out: 0, refused: 0, connectFailures: 0 };
        t[field] += value;
        totals.set(route, t);
      }
    };
    await add(this.connectionsActive, "active");
    await add(this.sessionsActive, "active");
    await add(this.connections, "ended");
    await add(this.sessions, "ended");
    await add(this.bytes, "in", (l) => l["direction"] === "in");
    await add(this.bytes, "out", (l) => l["direction"] === "out");
    await add(this.datagrams, "in", (l) => l["direction"] === "in");
    await add(this.datagrams, "out", (l) => l["direction"] === "out");
    await add(this.refusals, "refused");
    await add(this.connectFailures, "connectFailures");
    return totals;
  }
}

type Labels = Partial<Record<string, string | number>>;

/** A route's numbers: open now, ended, relayed (bytes on tcp, datagrams on udp), refused, failed connects. */
export interface RouteTotals {
  active: number;
  ended: number;
  in: number;
  out: number;
  refused: number;
  connectFailures: number;
}
