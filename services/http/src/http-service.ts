import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { ROUTE_ROLES } from "@switchyard/config";
import type { Logger, NatsAuth } from "@switchyard/runtime";
import { EdgeWorker, joinWhenReady } from "@switchyard/worker";
import type { HttpSettings } from "./config.js";
import type { Exchange } from "./front/exchange.js";
import { Http1Front } from "./front/http1-front.js";
import { serveHttp2 } from "./front/http2-front.js";
import { type ConnectionSlot, ConnectionSlots } from "./limits/connection-slot.js";
import type { HttpMetrics } from "./metrics.js";
import { OcspStapler } from "./ocsp/ocsp-stapler.js";
import {
  type AccessLog,
  type ConnectionFacts,
  handleRequest,
  type RequestContext,
} from "./proxy/handle-request.js";
import { handleUpgrade } from "./proxy/handle-upgrade.js";
import { SiteCertificates } from "./tls/site-certificates.js";
import { TlsTerminator } from "./tls/terminate-tls.js";
import { UpstreamPools } from "./upstreams/upstream-pools.js";

export interface HttpServiceOptions {
  edge: string;
  token: string;
  instance?: string;
  logger: Logger;
  /** Where the access lines go (default: `logger`); main.ts gives a buffered one. */
  accessLog?: AccessLog;
  metrics: HttpMetrics;
  kvKeyFile: string;
  /** NATS for `tls: auto` certificates (config `nats`). */
  nats?: { servers: string[]; auth: NatsAuth };
}

/** A TLS connection before its protocol takes it over. */
interface TlsConnection {
  slot: ConnectionSlot;
  facts: ConnectionFacts;
}

/** Every handed-off socket's 'error' listener (one function for all; `this` is the socket). */
function destroyOnError(this: Socket): void {
  this.destroy();
}

/** How long a connect to an upstream may take before it counts as failed (and is retried elsewhere). */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * A connection handed over while the worker drains (the edge had routed it before the worker left)
 * has this long to finish its TLS handshake and deliver a whole first request (HTTP/1.1) or its
 * preface (HTTP/2); bytes do not extend it. Otherwise it is closed: the drain does not wait on it.
 */
export const DRAIN_GRACE_MS = 2000;

/** What a connection under the grace does when drained again: nothing, the grace bounds it already. */
function underGrace(): void {}

/**
 * An http worker: its membership of the edge's `http` pool, TLS termination with the sites'
 * certificates, HTTP/1.1 and HTTP/2 to clients, and the upstream pools requests go to.
 */
export class HttpService {
  private settings: HttpSettings;
  private upstreams: UpstreamPools;
  private readonly slots: ConnectionSlots;
  private readonly worker: EdgeWorker;
  private readonly certificates: SiteCertificates;
  private readonly ocsp: OcspStapler;
  private readonly http1: Http1Front;
  private readonly tls: TlsTerminator<TlsConnection>;
  private nextId = 1;
  /** SIGTERM: the worker leaves the pool and finishes its connections. */
  private leaving = false;
  /** An operator drained this worker at the edge (`yardctl drain`): until it attaches again. */
  private drainRequested = false;
  private stopped = false;

  constructor(
    settings: HttpSettings,
    private readonly options: HttpServiceOptions,
  ) {
    this.settings = settings;
    const { logger, metrics } = options;
    this.upstreams = new UpstreamPools(settings.pools, CONNECT_TIMEOUT_MS, logger);
    metrics.upstreams = () => this.upstreams.all();
    this.ocsp = new OcspStapler({ logger, metrics: metrics.ocsp });
    this.certificates = new SiteCertificates({
      kvKeyFile: options.kvKeyFile,
      logger,
      watchCertificates: settings.storedCertificates,
      ticketRotateMs: () => this.settings.ticketRotateMs,
      changed: () => this.stapleServed(),
      ...(options.nats ? { nats: { ...options.nats, name: `http-${options.instance ?? process.pid}` } } : {}),
    });
    this.certificates.fixed = settings.fixedCertificates;
    this.slots = new ConnectionSlots(() => this.settings.limits.maxConnections, {
      held: (n) => metrics.connections.set(n),
      refused: () => metrics.connectionsRefused.inc(),
      expired: (reason) => metrics.deadline(reason),
    });
    this.http1 = new Http1Front({
      limits: () => this.settings.limits,
      request: (ex, conn) => this.request(ex, conn.facts),
      upgrade: (req, socket, head, conn) => void this.upgrade(req, socket, head, conn.facts),
      refused: (status, reason, conn) => {
        metrics.refused(status, reason);
        logger.info({ conn: conn?.facts.id, client: conn?.facts.address, status, reason }, "request refused");
      },
    });
    this.tls = new TlsTerminator<TlsConnection>(
      {
        contextFor: (name) => this.certificates.getSecureContext(name),
        secure: (tls, protocol, { slot, facts }) => {
          tls.on("error", destroyOnError);
          if (protocol === "h2") {
            serveHttp2(tls, slot, facts, {
              limits: () => this.settings.limits,
              request: (ex) => this.request(ex, facts),
              refused: (status, reason) => this.options.metrics.refused(status, reason),
            });
          } else {
            slot.cancel("header");
            this.http1.accept({ slot, facts, socket: tls, inFlight: 0 });
          }
        },
        failed: (err, { facts }) => {
          metrics.tlsFailures.inc();
          logger.debug({ err: err.message, conn: facts.id }, "tls handshake failed");
        },
      },
      this.ocsp.server,
    );
    this.worker = new EdgeWorker({
      edge: options.edge,
      token: options.token,
      role: "http",
      pool: "http",
      logger,
      ...(options.instance ? { instance: options.instance } : {}),
      onConnection: (socket, info) => this.accept(socket, info.role, info.remote.address, info.sni),
      onDrainRequest: () => {
        this.drainRequested = true;
        this.drainConnections("the edge asked (yardctl drain)");
      },
    });
    // Attached again (an edge restart, or the edge forgot us): a ready member, so keep-alive again.
    this.worker.on("attached", () => {
      this.drainRequested = false;
    });
  }

  /** New connections are served once (HTTP/1.1 Connection: close, HTTP/2 GOAWAY) and closed. */
  private get draining(): boolean {
    return this.leaving || this.drainRequested;
  }

  get held(): number {
    return this.slots.size;
  }

  get pools(): UpstreamPools {
    return this.upstreams;
  }

  get sites(): HttpSettings["sites"] {
    return this.settings.sites;
  }

  start(): void {
    this.stapleServed();
    this.certificates.start();
    this.upstreams.start();
    void this.joinWhenCertificatesRead();
  }

  /**
   * Joins the edge's pool once the certs bucket is read: a replica that joined before would fail
   * the handshakes of `tls: auto` sites the edge hands it (a scale-up or a restart under load).
   * Without NATS it joins after `certificatesWaitMs` anyway, for the sites that need no bucket.
   */
  private async joinWhenCertificatesRead(): Promise<void> {
    await joinWhenReady({
      ready: this.certificates.ready(),
      isReady: () => this.certificates.isReady,
      waitMs: this.settings.certificatesWaitMs,
      logger: this.options.logger,
      meanwhile: "tls: auto sites fail their handshakes",
      join: () => this.worker.start(),
      stopped: () => this.stopped,
    });
  }

  /** What requests read: made once per settings (not per request), a reload makes a new one. */
  private current: RequestContext | undefined;

  private context(): RequestContext {
    if (this.current) return this.current;
    const { settings } = this;
    this.current = {
      sites: settings.sites,
      pools: this.upstreams.pools,
      via: settings.via,
      httpsPort: settings.httpsPort,
      metrics: this.options.metrics,
      logger: this.options.logger,
      accessLog: this.options.accessLog ?? this.options.logger,
      connectFailed: (u) => {
        this.options.logger.warn({ pool: u.pool, upstream: u.address }, "upstream refused a connection");
      },
      tlsFailed: (u, failure) => {
        this.options.metrics.upstreamTlsFailures.labels(u.pool, u.address, failure.label).inc();
        if (u.shouldLogTls(failure))
          this.options.logger.warn(
            { pool: u.pool, upstream: u.address, reason: failure.reason },
            failure.kind === "verify" ? "upstream certificate refused" : "upstream TLS handshake failed",
          );
      },
    };
    return this.current;
  }

  private request(ex: Exchange, facts: ConnectionFacts): void {
    handleRequest(ex, facts, this.context()).catch((err: unknown) => {
      this.options.logger.error({ err, conn: facts.id }, "request handler failed");
      ex.abort();
    });
  }

  /** A handed-off connection: TLS (role https) or plain HTTP/1.1 (role http). */
  private accept(socket: Socket, role: string | undefined, address: string, sni?: string): void {
    const slot = this.slots.admit(socket);
    if (!slot) {
      socket.on("error", destroyOnError);
      socket.destroy();
      return;
    }
    socket.on("error", destroyOnError);
    // A handed-over fd keeps the edge's socket options, and net.Server leaves Nagle on: a response's
    // last small segment then waits for the client's (delayed) ACK of the one before, up to 40 ms.
    // nginx sets tcp_nodelay on keep-alive connections for the same reason.
    socket.setNoDelay(true);
    if (this.draining) {
      // Routed by the edge before the worker left (or was drained): served once, or closed.
      slot.deadline("drain", "drain", DRAIN_GRACE_MS);
      slot.drain = underGrace;
    }
    const facts: ConnectionFacts = {
      id: this.nextId++,
      address,
      secure: role === ROUTE_ROLES.https,
      draining: this.draining,
      ...(role === ROUTE_ROLES.https && sni !== undefined ? { sni } : {}),
    };
    if (!facts.secure) {
      this.http1.accept({ slot, facts, socket, inFlight: 0 });
      return;
    }
    slot.deadline("header", "handshake", this.settings.limits.headerTimeoutMs);
    this.tls.terminate(socket, { slot, facts }, this.ocsp.stapling);
  }

  /** OCSP stapling follows the certificates served now (none when http.ocsp.enabled is false). */
  private stapleServed(): void {
    const { settings } = this;
    this.ocsp.serve(
      settings.ocspEnabled ? [...settings.fixedChains, ...this.certificates.storedChains()] : [],
    );
  }

  /** An HTTP/1.1 Upgrade: tunnelled to the site's upstream (WebSocket), or refused. */
  private async upgrade(
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    facts: ConnectionFacts,
  ): Promise<void> {
    await handleUpgrade(req, socket, head, facts, this.context());
  }

  /**
   * New settings (from config.ts's httpSettings, which read and checked them): sites, limits and
   * fixed certificates at once; new upstream pools for new requests, the old ones closed when idle.
   */
  async reload(settings: HttpSettings): Promise<void> {
    const old = this.upstreams;
    this.upstreams = new UpstreamPools(settings.pools, CONNECT_TIMEOUT_MS, this.options.logger);
    this.upstreams.start();
    this.settings = settings;
    this.current = undefined;
    this.certificates.fixed = settings.fixedCertificates;
    this.stapleServed();
    this.http1.reload();
    void old.close();
  }

  /** Leaves the pool, asks every connection to finish (HTTP/1.1: Connection: close; HTTP/2: GOAWAY), waits. */
  async drain(deadlineMs: number): Promise<void> {
    // Marked first (a connection handed over meanwhile, the edge's in flight, is marked at accept
    // and counted below: slots.size includes it), then the pool is left.
    this.leaving = true;
    const held = this.drainConnections("stopping");
    await this.worker.leave();
    const until = Date.now() + deadlineMs;
    while (this.slots.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.options.logger.info({ held, left: this.slots.size }, "http connections drained");
  }

  /**
   * Every connection held is told to finish (HTTP/1.1: the response in flight says Connection:
   * close, idle ones close; HTTP/2: GOAWAY); `draining` makes the next ones do the same.
   */
  private drainConnections(why: string): number {
    const held = this.slots.size;
    for (const slot of this.slots.all()) slot.drain();
    this.options.logger.info({ held, why }, "draining http connections");
    return held;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.worker.stop();
    for (const slot of this.slots.all()) slot.socket.destroy();
    await this.certificates.stop();
    this.ocsp.stop();
    await this.upstreams.destroy();
  }
}
