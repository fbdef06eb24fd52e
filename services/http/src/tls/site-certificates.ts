import type { SecureContext } from "node:tls";
import { CertificateWatcher, ensureKvKey } from "@switchyard/certstore";
import {
  closeNats,
  connectNats,
  type Logger,
  NATS_BUCKETS,
  type NatsAuth,
  type NatsConnection,
  openKv,
} from "@switchyard/runtime";
import { normalizeHost } from "../sites/site-table.js";
import { setTicketKey } from "./terminate-tls.js";
import { SharedTicketKeys } from "./ticket-keys.js";

export interface SiteCertificatesOptions {
  /** NATS for the certs bucket and the shared ticket key; none: fixed certificates, own tickets. */
  nats?: { servers: string[]; auth: NatsAuth; name: string };
  /** Some site takes its certificate from the certs bucket (`tls: auto`): watch it. */
  watchCertificates: boolean;
  /** How old the shared session-ticket key may get (http.sessionTickets.rotateMs, read live). */
  ticketRotateMs: () => number;
  kvKeyFile: string;
  logger: Logger;
  /** A certificate from the certs bucket came, changed or went (OCSP stapling follows them). */
  changed?: () => void;
}

/**
 * The certificate for a TLS server name: a site's fixed certificate (by its domains, exact then
 * `*.`), else the certs service's from the `certs` bucket (CertificateWatcher: exact, then one-label
 * wildcard), swapped live when certs renews it. While NATS is away the worker keeps what it has.
 * Over the same connection, the session-ticket key every replica shares (SharedTicketKeys).
 */
export class SiteCertificates {
  private watcher: CertificateWatcher | undefined;
  private tickets: SharedTicketKeys | undefined;
  private nc: NatsConnection | undefined;
  private stopped = false;
  /** Fixed certificates by normalized domain pattern (replaced on reload). */
  fixed = new Map<string, SecureContext>();

  /** The certs bucket has been read, or no site takes its certificate from it. */
  isReady = false;
  private loadedResolve!: () => void;
  private readonly loaded = new Promise<void>((resolve) => {
    this.loadedResolve = () => {
      this.isReady = true;
      resolve();
    };
  });

  constructor(private readonly options: SiteCertificatesOptions) {}

  start(): void {
    // Nothing to read from the certs bucket: ready at once.
    if (!this.options.nats || !this.options.watchCertificates) this.loadedResolve();
    if (!this.options.nats) return;
    this.run().catch((err: unknown) =>
      this.options.logger.error({ err }, "cannot follow certificates from NATS"),
    );
  }

  /**
   * Resolves once the certs bucket has been read, or at start when no site takes its certificate
   * from it; never while NATS cannot be reached (the caller bounds the wait).
   */
  ready(): Promise<void> {
    return this.loaded;
  }

  getSecureContext(servername: string): SecureContext | undefined {
    const name = normalizeHost(servername);
    const fixed = this.fixed.get(name);
    if (fixed) return fixed;
    const dot = name.indexOf(".");
    const wildcard = dot > 0 ? this.fixed.get(`*${name.slice(dot)}`) : undefined;
    return wildcard ?? this.watcher?.selector.select(name)?.context;
  }

  /** The chains (PEM) of the certificates the certs bucket serves now, one per certificate name. */
  storedChains(): string[] {
    return this.watcher?.selector.list().map((c) => c.chain) ?? [];
  }

  private async run(): Promise<void> {
    const { nats, logger } = this.options;
    if (!nats) return;
    const kvKey = await ensureKvKey(this.options.kvKeyFile);
    const nc = await connectNats({ servers: nats.servers, name: nats.name, logger, ...nats.auth });
    if (this.stopped) {
      await closeNats(nc);
      return;
    }
    this.nc = nc;
    this.tickets = new SharedTicketKeys({
      kv: () => openKv(nc, NATS_BUCKETS.tlsTickets, { history: 1 }),
      kvKey,
      logger,
      rotateMs: this.options.ticketRotateMs,
      apply: setTicketKey,
    });
    void this.tickets.start();
    if (!this.options.watchCertificates) return;
    this.watcher = new CertificateWatcher({ nc, kvKey, logger });
    const { changed } = this.options;
    if (changed) {
      this.watcher.on("certificate", changed);
      this.watcher.on("removed", changed);
    }
    await this.watcher.start();
    this.loadedResolve();
    logger.info({ certificates: this.watcher.selector.size }, "certificates loaded from the certs bucket");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tickets?.stop();
    await this.watcher?.stop();
    if (this.nc) await closeNats(this.nc);
  }
}
