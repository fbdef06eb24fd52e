import type { Socket } from "node:net";
import { type DnsSection, ROUTE_ROLES } from "@switchyard/config";
import { BAN_SUBJECT, type Logger, type NatsAuth } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { loadZones } from "./config.js";
import { ConnectionSlots } from "./connection-slots.js";
import { DohServer } from "./doh-server.js";
import type { RecordSource } from "./dynamic-records.js";
import { type Answerer, Forwarder } from "./forwarder.js";
import type { DnsMetrics } from "./metrics.js";
import { NatsLink } from "./nats-link.js";
import { ResponseRateLimiter } from "./rate-limiter.js";
import { RecordAdmin } from "./record-admin.js";
import { RecordFeed } from "./record-feed.js";
import type { ResourceRecord } from "./records.js";
import type { Responder } from "./responder.js";
import { ServedZones } from "./served-zones.js";
import { StoredCertificates } from "./stored-certificates.js";
import { serveTcp } from "./tcp-server.js";
import { FileTlsContext, type TlsContextSource } from "./tls-context.js";
import { loadUdpBatch, serveUdpBatch } from "./udp-batch-server.js";
import { serveUdp } from "./udp-server.js";
import type { ZoneSet } from "./zone-set.js";

export interface DnsServiceOptions {
  edge: string;
  token: string;
  instance?: string;
  logger: Logger;
  metrics: DnsMetrics;
  /** NATS servers for dynamic records (`acme`, `dns-records`) and rate-limit bans; none: neither. */
  natsServers?: string[];
  /** DoH certificates from the certs service's `certs` bucket (when the config lists certificates). */
  certificates?: { kvKeyFile: string };
  /** config `nats` tokenFile / credentialsFile (natsAuth(config.nats, "dns")). */
  natsAuth?: NatsAuth;
  /** Overrides config `dns.udp.batch` (env SWITCHYARD_DNS_UDP_BATCH). */
  udpBatch?: boolean;
}

/** A dns replica: the zones it serves, and its membership of the edge's `dns` pool. */
export class DnsService {
  private readonly served: ServedZones;
  private readonly nats: NatsLink | undefined;
  private readonly feed: RecordFeed | undefined;
  readonly records: RecordAdmin | undefined;
  private readonly worker: EdgeWorker;
  private readonly doh: DohServer;
  private tls: TlsContextSource | undefined;
  private readonly stored: StoredCertificates | undefined;
  private forwarder: Forwarder | undefined;
  private readonly slots: ConnectionSlots;
  files = new Map<string, string>();
  private tcp: DnsSection["tcp"];
  /** The DoH name whose certificate a client without SNI gets. */
  private dohDomain: string | undefined;
  private limiter: ResponseRateLimiter;
  private rrl: DnsSection["rrl"];
  private readonly udp: DnsSection["udp"];
  private udpBatch: Awaited<ReturnType<typeof loadUdpBatch>>;

  private constructor(
    zones: ZoneSet,
    section: DnsSection,
    private readonly options: DnsServiceOptions,
  ) {
    this.tcp = section.tcp;
    this.dohDomain = section.doh?.domain;
    this.rrl = section.rrl;
    this.udp = section.udp;
    const { metrics, logger } = options;
    this.served = new ServedZones(zones, (qtype, rcode, udp) => metrics.count(qtype, rcode, !udp), logger);
    const current = (): Answerer => this.forwarder ?? this.served.responder;
    const authoritative = () => this.served.responder;
    this.doh = new DohServer({
      answer: async (query, client) => current().respond(query, false, client),
      tls: () => this.stored ?? this.tls,
      nameWithoutSni: () => this.dohDomain,
      logger,
      observe: (status) => metrics.doh(status),
      limits: () => this.tcp,
      calmed: () => metrics.tcpExpired.labels("stream-rate").inc(),
    });
    // One cap for every connection this replica holds, DNS over TCP and DoH alike.
    this.slots = new ConnectionSlots(() => this.tcp, {
      held: (connections, addresses) => {
        metrics.tcpConnections.set(connections);
        metrics.tcpAddresses.set(addresses);
      },
      refused: (reason) => metrics.tcpRefused.labels(reason).inc(),
      expired: (reason) => metrics.tcpExpired.labels(reason).inc(),
    });
    if (options.natsServers && options.natsServers.length > 0) {
      const nats = new NatsLink({
        servers: options.natsServers,
        ...options.natsAuth,
        name: `dns-${options.instance ?? process.pid}`,
        logger,
      });
      this.nats = nats;
      const feed = new RecordFeed({
        nats,
        logger,
        onEntries: (bucket, entries, snapshot) => this.served.onEntries(bucket, entries, snapshot),
      });
      this.feed = feed;
      this.records = new RecordAdmin(this.served, () => feed.records);
      if (options.certificates) {
        this.stored = new StoredCertificates({
          nats,
          kvKeyFile: options.certificates.kvKeyFile,
          logger,
          files: () => this.tls,
        });
      }
    }
    this.limiter = this.makeLimiter(section.rrl);
    this.worker = new EdgeWorker({
      edge: options.edge,
      token: options.token,
      role: "dns",
      pool: "dns",
      logger,
      ...(options.instance ? { instance: options.instance } : {}),
      onConnection: (socket, info) => {
        const slot = this.slots.admit(socket, info.remote.address);
        if (typeof slot === "string") return refuse(socket);
        // The route says DoH; a route without a role that read a ClientHello (an SNI) is DoH too.
        if (info.role === ROUTE_ROLES.doh || (info.role === undefined && info.sni !== undefined))
          return this.doh.accept(socket, slot, info.sni);
        const { idleTimeoutMs, queryTimeoutMs } = this.tcp;
        serveTcp(
          socket,
          slot,
          current,
          { idleTimeoutMs, queryTimeoutMs, client: info.remote.address },
          metrics.tcpLatency,
        );
      },
      adoptUdp: (share) => {
        if (!this.udpBatch) return undefined;
        const udp = `${share.address}:${share.port}`;
        try {
          const handle = serveUdpBatch(this.udpBatch, share.fd, {
            answerer: current,
            responder: authoritative,
            limiter: () => this.limiter,
            latency: metrics.udpLatency,
            batchSize: this.udp.batchSize,
            logger,
            metrics,
          });
          logger.info({ udp: [udp], mode: "batch", batch: this.udp.batchSize }, "serving udp");
          return handle;
        } catch (err) {
          // The fd stays the worker's: it serves it with dgram instead.
          logger.warn({ err, udp }, "cannot serve udp in batches: dgram instead");
          return undefined;
        }
      },
      onUdpSockets: (shares) => {
        for (const share of shares)
          serveUdp(share.socket, {
            answerer: current,
            responder: authoritative,
            limiter: () => this.limiter,
            latency: metrics.udpLatency,
          });
        logger.info({ udp: shares.map((s) => `${s.address}:${s.port}`), mode: "dgram" }, "serving udp");
      },
    });
  }

  static async create(section: DnsSection, options: DnsServiceOptions): Promise<DnsService> {
    const service = new DnsService(await loadZones(section), section, options);
    service.files = filesOf(section);
    service.tls = await loadTls(section);
    service.forwarder = await service.makeForwarder(section);
    if (options.udpBatch ?? section.udp.batch) service.udpBatch = await loadUdpBatch(options.logger);
    return service;
  }

  private async makeForwarder(section: DnsSection): Promise<Forwarder | undefined> {
    if (!section.forward) return undefined;
    const { metrics, logger } = this.options;
    return Forwarder.create(
      section.forward,
      () => this.served.responder,
      {
        query: (qtype, rcode, udp) => metrics.count(qtype, rcode, !udp),
        outcome: (o) => metrics.forwarded(o),
        upstreamError: (u) => metrics.upstreamError(u),
      },
      logger,
    );
  }

  private makeLimiter(rrl: DnsSection["rrl"]): ResponseRateLimiter {
    const { metrics, logger } = this.options;
    const nats = this.nats;
    return new ResponseRateLimiter(rrl, {
      dropped: () => metrics.rrlDropped.inc(),
      slipped: () => metrics.rrlSlipped.inc(),
      ...(nats && {
        ban: (address, seconds) => {
          const ban = { address, seconds, reason: "dns-rrl", source: "dns" };
          if (!nats.publish(BAN_SUBJECT, JSON.stringify(ban))) {
            logger.warn({ ban }, "nats not connected: ban not published");
            return;
          }
          metrics.rrlBans.inc();
          logger.warn({ address, seconds }, "rate limited for a whole window: ban published");
        },
      }),
    });
  }

  get zones(): ZoneSet {
    return this.served.zones;
  }

  get responder(): Responder {
    return this.served.responder;
  }

  get prebuilt(): number {
    return this.served.responder.prebuiltCount;
  }

  /** Where a served record comes from: the config, UpsertRecord, or an ACME challenge. */
  sourceOf(rr: ResourceRecord): RecordSource {
    return this.served.sourceOf(rr);
  }

  start(): void {
    this.worker.start();
    this.feed?.start();
    this.stored?.start();
  }

  /** Swaps in new zones; on any error the running ones stay (the caller logs it). */
  async reload(section: DnsSection): Promise<void> {
    const zones = await loadZones(section);
    const tls = await loadTls(section);
    const forwarder = await this.makeForwarder(section);
    this.served.setStatic(zones);
    this.tls = tls;
    this.forwarder?.close();
    this.forwarder = forwarder;
    this.files = filesOf(section);
    this.tcp = section.tcp;
    this.doh.reload();
    this.dohDomain = section.doh?.domain;
    if (JSON.stringify(section.rrl) !== JSON.stringify(this.rrl))
      this.limiter = this.makeLimiter(section.rrl);
    this.rrl = section.rrl;
  }

  /** Leaves the pool, asks every connection to finish (HTTP/2: GOAWAY) and waits for them. */
  async drain(deadlineMs: number): Promise<void> {
    await this.worker.leave();
    const held = this.slots.size;
    for (const slot of this.slots.all()) slot.drain();
    const until = Date.now() + deadlineMs;
    while (this.slots.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.options.logger.info({ held, left: this.slots.size }, "tcp and doh connections drained");
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    this.feed?.stop();
    await this.stored?.stop();
    await this.nats?.close();
    this.served.stop();
    this.doh.close();
    this.forwarder?.close();
    for (const slot of this.slots.all()) slot.socket.destroy();
  }
}

/** Over the connection cap: close politely (FIN once nothing is left to write), read nothing. */
function refuse(socket: Socket): void {
  socket.on("error", () => socket.destroy());
  socket.resume();
  socket.end(() => socket.destroy());
}

function filesOf(section: DnsSection): Map<string, string> {
  const files = new Map<string, string>();
  for (const z of section.zones) if (z.file) files.set(z.origin.toLowerCase().replace(/\.$/, ""), z.file);
  return files;
}

async function loadTls(section: DnsSection): Promise<TlsContextSource | undefined> {
  const doh = section.doh;
  if (!doh?.certFile || !doh.keyFile) return undefined;
  return FileTlsContext.load(doh.certFile, doh.keyFile);
}
