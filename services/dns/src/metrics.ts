import { Counter, Gauge, type Registry } from "prom-client";
import { signingStats } from "./dnssec/signatures.js";
import { LatencyHistogram, type LatencyRecorder } from "./latency-histogram.js";
import { typeName, typeNames } from "./wire/records.js";

/** What the metrics read of a batched UDP socket. */
export interface UdpBatchSource {
  stats(): { batches: number; dropped: number; queued: number };
}

const rcodeNames = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
];

/**
 * Query counters and latency. Per query they cost a Map increment and a few comparisons: the counts
 * go to prom-client when it is scraped (its own label hashing per query showed in the UDP profile).
 */
export class DnsMetrics {
  /** Queries counted since the last scrape, by (qtype, rcode, transport) key. */
  private readonly pending = new Map<number, number>();
  readonly udpLatency: LatencyRecorder;
  readonly tcpLatency: LatencyRecorder;
  readonly tcpConnections: Gauge;
  private readonly dropped: Counter<"transport">;
  readonly tcpAddresses: Gauge;
  readonly tcpRefused: Counter<"reason">;
  readonly tcpExpired: Counter<"reason">;
  readonly rrlDropped: Counter;
  readonly rrlSlipped: Counter;
  readonly rrlBans: Counter;
  private readonly dohResponses: Counter<"status">;
  private readonly forwardedAnswers: Counter<"outcome">;
  private readonly upstreamErrors: Counter<"upstream">;
  /** Batched UDP sockets (packages/udp-batch): their counters, and what was reported of them. */
  private readonly udpSources = new Map<UdpBatchSource, { batches: number; dropped: number }>();
  private readonly udpBatches: Counter;
  private readonly udpSendDropped: Counter;

  constructor(registry: Registry) {
    const pending = this.pending;
    let reportedSignatures = 0;
    new Counter({
      name: "switchyard_dns_signatures_total",
      help: "DNSSEC signatures made (one per RRset and renewal; cached answers make none)",
      registers: [registry],
      collect() {
        this.inc(signingStats.signatures - reportedSignatures);
        reportedSignatures = signingStats.signatures;
      },
    });
    new Counter({
      name: "switchyard_dns_queries_total",
      help: "Queries answered, by query type, response code and transport",
      labelNames: ["qtype", "rcode", "transport"],
      registers: [registry],
      collect() {
        for (const [key, n] of pending) {
          const q = key >> 6;
          const rcode = (key >> 1) & 31;
          this.labels(
            q === 0 ? "OTHER" : typeName(q),
            rcodeNames[rcode] ?? (rcode === 16 ? "BADVERS" : String(rcode)),
            key & 1 ? "tcp" : "udp",
          ).inc(n);
        }
        pending.clear();
      },
    });
    const latency = new LatencyHistogram(
      "switchyard_dns_response_seconds",
      "Time from a query's arrival to its response being handed to the socket",
      "transport",
      [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05],
      registry,
    );
    this.dropped = new Counter({
      name: "switchyard_dns_dropped_total",
      help: "Messages dropped without an answer: no readable header, or a response",
      labelNames: ["transport"],
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
    this.tcpConnections = new Gauge({
      name: "switchyard_dns_tcp_connections",
      help: "DNS/TCP and DoH connections this replica holds",
      registers: [registry],
    });
    this.tcpAddresses = new Gauge({
      name: "switchyard_dns_tcp_addresses",
      help: "Client addresses (IPv4, IPv6 /64) holding DNS/TCP or DoH connections to this replica",
      registers: [registry],
    });
    this.tcpRefused = new Counter({
      name: "switchyard_dns_tcp_refused_total",
      help: "DNS/TCP and DoH connections closed at once, by reason: max-connections (dns.tcp.maxConnections), per-address (dns.tcp.maxConnectionsPerAddress)",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.tcpExpired = new Counter({
      name: "switchyard_dns_tcp_deadlines_total",
      help: "DNS/TCP and DoH connections closed (HTTP/2: streams reset) by a deadline or limit, by reason: idle, query, request, stream, session, closing, stream-rate",
      labelNames: ["reason"],
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
    const sources = this.udpSources;
    const report = () => this.reportUdp();
    new Gauge({
      name: "switchyard_dns_udp_send_queued",
      help: "UDP answers waiting for the socket to be writable again (batched UDP only)",
      registers: [registry],
      collect() {
        report();
        let queued = 0;
        for (const source of sources.keys()) queued += source.stats().queued;
        this.set(queued);
      },
    });
    this.udpBatches = new Counter({
      name: "switchyard_dns_udp_batches_total",
      help: "recvmmsg calls that read datagrams (batched UDP only; queries / batches = batch fill)",
      registers: [registry],
    });
    this.udpSendDropped = new Counter({
      name: "switchyard_dns_udp_send_dropped_total",
      help: "UDP answers dropped because the send queue was full (batched UDP only)",
      registers: [registry],
    });
    this.udpLatency = latency.child("udp");
    this.tcpLatency = latency.child("tcp");
  }

  /** Counts one query; qtypes we do not serve share one label value so cardinality stays bounded. */
  count(qtype: number, rcode: number, tcp: boolean): void {
    if (rcode < 0) {
      this.dropped.labels(tcp ? "tcp" : "udp").inc();
      return;
    }
    const q = typeNames.has(qtype) ? qtype : 0;
    const key = (q << 6) | ((rcode & 31) << 1) | (tcp ? 1 : 0);
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  }

  /** Counts a batched UDP socket's batches and drops until the returned function is called (at close). */
  watchUdpBatch(source: UdpBatchSource): () => void {
    this.udpSources.set(source, { batches: 0, dropped: 0 });
    return () => {
      this.reportUdp();
      this.udpSources.delete(source);
    };
  }

  private reportUdp(): void {
    for (const [source, seen] of this.udpSources) {
      const { batches, dropped } = source.stats();
      this.udpBatches.inc(batches - seen.batches);
      this.udpSendDropped.inc(dropped - seen.dropped);
      seen.batches = batches;
      seen.dropped = dropped;
    }
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
