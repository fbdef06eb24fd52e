import type { SecureContext } from "node:tls";
import { CertificateWatcher, ensureKvKey } from "@switchyard/certstore";
import { closeNats, connectNats, type Logger, type NatsAuth, type NatsConnection } from "@switchyard/runtime";
import { normalizeHost } from "../sites/site-table.js";

export interface SiteCertificatesOptions {
  /** NATS for the certs bucket (sites with `tls: auto`); none: fixed certificates only. */
  nats?: { servers: string[]; auth: NatsAuth; name: string };
  kvKeyFile: string;
  logger: Logger;
}

/**
 * The certificate for a TLS server name: a site's fixed certificate (by its domains, exact then
 * `*.`), else the certs service's from the `certs` bucket (CertificateWatcher: exact, then one-label
 * wildcard), swapped live when certs renews it. While NATS is away the worker keeps what it has.
 */
export class SiteCertificates {
  private watcher: CertificateWatcher | undefined;
  private nc: NatsConnection | undefined;
  private stopped = false;
  /** Fixed certificates by normalized domain pattern (replaced on reload). */
  fixed = new Map<string, SecureContext>();

  constructor(private readonly options: SiteCertificatesOptions) {}

  start(): void {
    if (!this.options.nats) return;
    this.run().catch((err: unknown) =>
      this.options.logger.error({ err }, "cannot follow certificates from NATS"),
    );
  }

  /** Resolves once the certs bucket has been read (or at once without NATS). */
  async ready(): Promise<void> {
    await this.watcher?.ready;
  }

  getSecureContext(servername: string): SecureContext | undefined {
    const name = normalizeHost(servername);
    const fixed = this.fixed.get(name);
    if (fixed) return fixed;
    const dot = name.indexOf(".");
    const wildcard = dot > 0 ? this.fixed.get(`*${name.slice(dot)}`) : undefined;
    return wildcard ?? this.watcher?.selector.select(name)?.context;
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
    this.watcher = new CertificateWatcher({ nc, kvKey, logger });
    await this.watcher.start();
    logger.info({ certificates: this.watcher.selector.size }, "certificates loaded from the certs bucket");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.stop();
    if (this.nc) await closeNats(this.nc);
  }
}
