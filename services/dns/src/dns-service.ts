import type { Socket } from "node:net";
import { type DnsSection, ROUTE_ROLES } from "@switchyard/config";
import type { Logger, NatsAuth } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { type Answerer, bytesOf } from "./answer/answerer.js";
import type { ResponseRateLimiter } from "./answer/rate-limiter.js";
import { createRateLimiter } from "./answer/rate-limiter-bans.js";
import type { Responder } from "./answer/responder.js";
import type { DnsSettings } from "./config.js";
import type { ZoneKeySet } from "./dnssec/zone-key-set.js";
import { type RolloverStep, ZoneKeys } from "./dnssec/zone-keys.js";
import { Forwarder } from "./forward/forwarder.js";
import type { DnsMetrics } from "./metrics.js";
import { NatsLink } from "./nats-link.js";
import { ConnectionSlots } from "./transports/connection-slots.js";
import { DohServer } from "./transports/doh-server.js";
import { StoredCertificates } from "./transports/stored-certificates.js";
import { serveTcp } from "./transports/tcp-server.js";
import type { TlsContextSource } from "./transports/tls-context.js";
import { loadUdpBatch, serveUdpBatch } from "./transports/udp-batch-server.js";
import { serveUdp } from "./transports/udp-server.js";
import type { ResourceRecord } from "./wire/records.js";
import type { RecordSource } from "./zones/dynamic-records.js";
import { RecordAdmin } from "./zones/record-admin.js";
import { RecordFeed } from "./zones/record-feed.js";
import { ServedZones } from "./zones/served-zones.js";
import type { ZoneSet } from "./zones/zone-set.js";

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
  /** The key file sealing DNSSEC keys in the `dns-keys` bucket (SWITCHYARD_KV_KEY_FILE). */
  kvKeyFile?: string;
  /** config `nats` tokenFile / credentialsFile (natsAuth(config.nats, "dns")). */
  natsAuth?: NatsAuth;
  /** Overrides config `dns.udp.batch` (env SWITCHYARD_DNS_UDP_BATCH). */
  udpBatch?: boolean;
}

/** A dns replica: the zones it serves, and its membership of the edge's `dns` pool. */
export class DnsService {
  private readonly served: ServedZones;
  private readonly nats: NatsLink | undefined;
  private readonly keys: ZoneKeys;
  private readonly feed: RecordFeed | undefined;
  readonly records: RecordAdmin | undefined;
  private readonly worker: EdgeWorker;
  private readonly doh: DohServer;
  private tls: TlsContextSource | undefined;
  private readonly stored: StoredCertificates | undefined;
  private forwarder: Forwarder | undefined;
  private readonly slots: ConnectionSlots;
  files: ReadonlyMap<string, string>;
  private tcp: DnsSection["tcp"];
  /** The DoH name whose certificate a client without SNI gets. */
  private dohDomain: string | undefined;
  private limiter: ResponseRateLimiter;
  private rrl: DnsSection["rrl"];
  private readonly udp: DnsSection["udp"];
  private udpBatch: Awaited<ReturnType<typeof loadUdpBatch>>;

  private constructor(
    settings: DnsSettings,
    private readonly options: DnsServiceOptions,
  ) {
    this.tcp = settings.tcp;
    this.dohDomain = settings.dohDomain;
    this.rrl = settings.rrl;
    this.udp = settings.udp;
    this.files = settings.files;
    this.tls = settings.tls;
    const { metrics, logger } = options;
    if (options.natsServers && options.natsServers.length > 0) {
      this.nats = new NatsLink({
        servers: options.natsServers,
        ...options.natsAuth,
        name: `dns-${options.instance ?? process.pid}`,
        logger,
      });
    }
    this.keys = new ZoneKeys({
      nats: this.nats,
      kvKeyFile: options.kvKeyFile,
      logger,
      changed: () => this.served.rekey(),
    });
    this.served = new ServedZones(
      settings.zones,
      (qtype, rcode, udp) => metrics.count(qtype, rcode, !udp),
      logger,
      this.keys,
    );
    const current = (): Answerer => this.forwarder ?? this.served.responder;
    const authoritative = () => this.served.responder;
    this.doh = new DohServer({
      answer: async (query, client) => bytesOf(current().respond(query, false, client)),
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
    const nats = this.nats;
    if (nats) {
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
    this.limiter = this.makeLimiter(settings.rrl);
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

  /** A replica for `settings` (from config.ts's dnsSettings); start() joins the pool. */
  static async create(settings: DnsSettings, options: DnsServiceOptions): Promise<DnsService> {
    const service = new DnsService(settings, options);
    service.forwarder = await service.makeForwarder(settings.forward);
    if (options.udpBatch ?? settings.udp.batch) service.udpBatch = await loadUdpBatch(options.logger);
    return service;
  }

  private async makeForwarder(forward: DnsSettings["forward"]): Promise<Forwarder | undefined> {
    if (!forward) return undefined;
    const { metrics, logger } = this.options;
    return Forwarder.create(
      forward,
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
    return createRateLimiter(rrl, metrics, logger, this.nats);
  }

  get zones(): ZoneSet {
    return this.served.zones;
  }

  get responder(): Responder {
    return this.served.responder;
  }

  /** The key set of each signed zone loaded so far (origin → key set). */
  get signingKeys(): ReadonlyMap<string, ZoneKeySet> {
    return this.served.keys;
  }

  /** The zone keys (rollover steps, their waits). */
  get zoneKeys(): ZoneKeys {
    return this.keys;
  }

  /**
   * One rollover step of a signed zone, written to KV; resolves once this replica serves the new
   * key set (the others follow through their watch). RolloverError when the step is refused.
   */
  async rollover(origin: string, step: RolloverStep, force: boolean): Promise<ZoneKeySet> {
    const zone = this.served.zones.get(origin);
    if (!zone?.dnssec) throw new Error(`zone ${origin} is not signed`);
    const set = await this.keys.step(origin, zone.dnssec.algorithm, step, force);
    // At this revision or a later one: another replica's step (or the automatic cleanup) may land
    // through the watch meanwhile, and waiting for exactly this one would then stall for 5 s.
    await this.served.waitUntil(() => (this.served.keys.get(origin)?.revision ?? -1) >= set.revision, 5000);
    return set;
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

  /**
   * Swaps in new settings (config.ts's dnsSettings, which read and checked them). The forwarder is
   * made before anything changes: on any error the running ones stay (the caller logs it).
   */
  async reload(settings: DnsSettings): Promise<void> {
    const forwarder = await this.makeForwarder(settings.forward);
    this.served.setStatic(settings.zones);
    this.tls = settings.tls;
    this.forwarder?.close();
    this.forwarder = forwarder;
    this.files = settings.files;
    this.tcp = settings.tcp;
    this.doh.reload();
    this.dohDomain = settings.dohDomain;
    if (JSON.stringify(settings.rrl) !== JSON.stringify(this.rrl))
      this.limiter = this.makeLimiter(settings.rrl);
    this.rrl = settings.rrl;
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
    this.keys.stop();
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
