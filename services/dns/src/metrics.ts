import { Counter, Histogram, type Registry } from "prom-client";
import { typeName } from "./records.js";

const rcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** Query counters and latency. Label children are made once per (qtype, rcode) and reused. */
export class DnsMetrics {
  private readonly queries: Counter<"qtype" | "rcode" | "transport">;
  private readonly latency: Histogram<"transport">;
  private readonly children = new Map<
    number,
    ReturnType<Counter<"qtype" | "rcode" | "transport">["labels"]>
  >();
  private readonly dohResponses: Counter<"status">;
  private readonly forwardedAnswers: Counter<"outcome">;
  private readonly upstreamErrors: Counter<"upstream">;
  readonly udpLatency: Histogram.Internal<"transport">;
  readonly tcpLatency: Histogram.Internal<"transport">;

  constructor(registry: Registry) {
    this.queries = new Counter({
      name: "switchyard_dns_queries_total",
      help: "Queries answered, by query type, response code and transport",
      labelNames: ["qtype", "rcode", "transport"],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "switchyard_dns_response_seconds",
      help: "Time from a query's arrival to its response being handed to the socket",
      labelNames: ["transport"],
      buckets: [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05],
      registers: [registry],
    });
    this.dohResponses = new Counter({
      name: "switchyard_dns_doh_responses_total",
      help: "DNS-over-HTTPS responses, by HTTP status",
      labelNames: ["status"],
      registers: [registry],
    });
    this.forwardedAnswers = new Counter({
      name: "switchyard_dns_forwarded_total",
      help: "Questions from trusted clients forwarded outside the zones, by outcome (cache, upstream, failed)",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.upstreamErrors = new Counter({
      name: "switchyard_dns_upstream_errors_total",
      help: "Upstream resolver attempts that failed (timeout, error, SERVFAIL, REFUSED), by upstream",
      labelNames: ["upstream"],
      registers: [registry],
    });
    this.udpLatency = this.latency.labels("udp");
    this.tcpLatency = this.latency.labels("tcp");
  }

  /** Counts one query; qtypes we do not serve share one label value so cardinality stays bounded. */
  count(qtype: number, rcode: number, tcp: boolean): void {
    const known = typeName(qtype);
    const q = known.startsWith("TYPE") ? 0 : qtype;
    const key = (q << 6) | (rcode << 1) | (tcp ? 1 : 0);
    let child = this.children.get(key);
    if (!child) {
      child = this.queries.labels(
        q === 0 ? "OTHER" : known,
        rcodeNames[rcode] ?? (rcode === 16 ? "BADVERS" : String(rcode)),
        tcp ? "tcp" : "udp",
      );
      this.children.set(key, child);
    }
    child.inc();
  }

  /** One DoH response (its HTTP status). */
  doh(status: number): void {
    this.dohResponses.labels(String(status)).inc();
  }

  forwarded(outcome: "cache" | "upstream" | "failed"): void {
    this.forwardedAnswers.labels(outcome).inc();
  }

  upstreamError(upstream: string): void {
    this.upstreamErrors.labels(upstream).inc();
  }
}
