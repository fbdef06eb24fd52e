import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Expiry } from "./limits/connection-slot.js";
import { OcspMetrics } from "./ocsp/ocsp-metrics.js";

/** What the scrape reads of the upstreams: in flight and health, now. */
export interface UpstreamView {
  pool: string;
  address: string;
  inFlight: number;
  healthy: boolean;
}

/** Requests by site and status class, latency, upstream errors and health, connections. */
export class HttpMetrics {
  private readonly requests: Counter<"site" | "class">;
  private readonly latency: Histogram<"site">;
  private readonly upstreamErrors: Counter<"site" | "upstream">;
  readonly upstreamHealthy: Gauge<"pool" | "upstream">;
  readonly upstreamInFlight: Gauge<"pool" | "upstream">;
  readonly connections: Gauge;
  readonly connectionsRefused: Counter;
  private readonly expired: Counter<"reason">;
  private readonly refusedRequests: Counter<"status" | "reason">;
  readonly tlsFailures: Counter;
  readonly ocsp: OcspMetrics;
  /** The running upstreams (set by the service; a reload swaps them). */
  upstreams: () => UpstreamView[] = () => [];

  constructor(registry: Registry) {
    const view = () => this.upstreams();
    const registers = [registry];
    this.requests = new Counter({
      name: "switchyard_http_requests_total",
      help: "Requests answered, by site and status class (2xx, 3xx, 4xx, 5xx; 0xx: no status sent)",
      labelNames: ["site", "class"],
      registers,
    });
    this.latency = new Histogram({
      name: "switchyard_http_request_seconds",
      help: "Time from request head to the end of the response, by site",
      labelNames: ["site"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: "switchyard_http_upstream_errors_total",
      help: "Requests that got no good answer from an upstream (502/504), by site and upstream",
      labelNames: ["site", "upstream"],
      registers,
    });
    this.upstreamHealthy = new Gauge({
      name: "switchyard_http_upstream_healthy",
      help: "1 while an upstream counts as healthy (active check and passive connect errors), by pool",
      labelNames: ["pool", "upstream"],
      registers,
      collect() {
        this.reset();
        for (const u of view()) this.labels(u.pool, u.address).set(u.healthy ? 1 : 0);
      },
    });
    this.upstreamInFlight = new Gauge({
      name: "switchyard_http_upstream_in_flight",
      help: "Requests (and WebSocket tunnels) in flight to an upstream",
      labelNames: ["pool", "upstream"],
      registers,
      collect() {
        this.reset();
        for (const u of view()) this.labels(u.pool, u.address).set(u.inFlight);
      },
    });
    this.connections = new Gauge({
      name: "switchyard_http_connections",
      help: "Client connections this worker holds",
      registers,
    });
    this.connectionsRefused = new Counter({
      name: "switchyard_http_connections_refused_total",
      help: "Connections closed at once: the worker held maxConnections",
      registers,
    });
    this.expired = new Counter({
      name: "switchyard_http_deadlines_total",
      help: "Connections (or HTTP/2 sessions) ended by a deadline, by which",
      labelNames: ["reason"],
      registers,
    });
    this.refusedRequests = new Counter({
      name: "switchyard_http_refused_total",
      help: "Requests refused before any upstream saw them (400, 408, 431, stream rate), by status and reason",
      labelNames: ["status", "reason"],
      registers,
    });
    this.tlsFailures = new Counter({
      name: "switchyard_http_tls_failures_total",
      help: "TLS handshakes that failed (no certificate for the SNI, protocol errors, deadline)",
      registers,
    });
    this.ocsp = new OcspMetrics(registry);
  }

  /** Per site: the latency child and the counter child of each status class (0xx–5xx), made once. */
  private readonly perSite = new Map<
    string,
    { latency: ReturnType<Histogram<"site">["labels"]>; classes: Array<ReturnType<Counter["labels"]>> }
  >();

  request(site: string, status: number, seconds: number): void {
    // prom-client's labels() hashes its arguments at every call: the children are kept instead.
    let children = this.perSite.get(site);
    if (!children) {
      children = { latency: this.latency.labels(site), classes: [] };
      this.perSite.set(site, children);
    }
    const cls = Math.floor(status / 100);
    let counter = children.classes[cls];
    if (!counter) {
      counter = this.requests.labels(site, `${cls}xx`);
      children.classes[cls] = counter;
    }
    counter.inc();
    children.latency.observe(seconds);
  }

  upstreamError(site: string, upstream: string): void {
    this.upstreamErrors.labels(site, upstream).inc();
  }

  deadline(reason: Expiry): void {
    this.expired.labels(reason).inc();
  }

  refused(status: number, reason: string): void {
    // Parser codes (HPE_*) and our own short reasons: a small, fixed set.
    this.refusedRequests.labels(String(status), reason.slice(0, 40)).inc();
  }
}
