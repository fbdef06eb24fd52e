import { Counter, Gauge, Histogram, type Registry } from "prom-client";
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
  readonly udpLatency: Histogram.Internal<"transport">;
  readonly tcpLatency: Histogram.Internal<"transport">;
  readonly tcpConnections: Gauge;
  private readonly dropped: Counter<"transport">;
  readonly tcpRefused: Counter;
  readonly rrlDropped: Counter;
  readonly rrlSlipped: Counter;
  readonly rrlBans: Counter;

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
    this.dropped = new Counter({
      name: "switchyard_dns_dropped_total",
      help: "Messages dropped without an answer: no readable header, or a response",
      labelNames: ["transport"],
      registers: [registry],
    });
    this.tcpConnections = new Gauge({
      name: "switchyard_dns_tcp_connections",
      help: "TCP connections this replica holds",
      registers: [registry],
    });
    this.tcpRefused = new Counter({
      name: "switchyard_dns_tcp_refused_total",
      help: "TCP connections closed at once because the replica held dns.tcp.maxConnections",
      registers: [registry],
    });
    this.rrlDropped = new Counter({
      name: "switchyard_dns_rrl_dropped_total",
      help: "UDP responses not sent because the client network was over dns.rrl.responsesPerSecond",
      registers: [registry],
    });
    this.rrlSlipped = new Counter({
      name: "switchyard_dns_rrl_slipped_total",
      help: "Rate-limited UDP responses sent truncated (TC=1) instead, every dns.rrl.slip-th",
      registers: [registry],
    });
    this.rrlBans = new Counter({
      name: "switchyard_dns_rrl_bans_total",
      help: "Networks over the limit for a whole window, published on firewall.ban",
      registers: [registry],
    });
    this.udpLatency = this.latency.labels("udp");
    this.tcpLatency = this.latency.labels("tcp");
  }

  /** Counts one query; qtypes we do not serve share one label value so cardinality stays bounded. */
  count(qtype: number, rcode: number, tcp: boolean): void {
    if (rcode < 0) {
      this.dropped.labels(tcp ? "tcp" : "udp").inc();
      return;
    }
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
}
