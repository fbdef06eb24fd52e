import type { SecureContext } from "node:tls";
import { CertificateWatcher, ensureKvKey } from "@switchyard/certstore";
import type { Logger } from "@switchyard/runtime";
import type { NatsLink } from "../nats-link.js";
import type { TlsContextSource } from "./tls-context.js";

export interface StoredCertificatesOptions {
  /** The replica's NATS connection (its owner closes it). */
  nats: NatsLink;
  kvKeyFile: string;
  logger: Logger;
  /** The DoH files from the config, for names no stored certificate covers (and until NATS answers). */
  files: () => TlsContextSource | undefined;
}

/**
 * DoH certificates from the certs service: a CertificateWatcher on the `certs` bucket, over the
 * replica's NATS connection once it is up; SNI picks the stored certificate (exact, then one-label
 * wildcard), else the DoH files. A renewed certificate serves the next handshake; while NATS is
 * away the replica keeps what it has.
 */
export class StoredCertificates implements TlsContextSource {
  private watcher: CertificateWatcher | undefined;
  private stopped = false;

  constructor(private readonly options: StoredCertificatesOptions) {}

  start(): void {
    this.run().catch((err: unknown) =>
      this.options.logger.error({ err }, "cannot follow certificates from NATS"),
    );
  }

  getSecureContext(servername: string): SecureContext | undefined {
    return (
      this.watcher?.selector.select(servername)?.context ?? this.options.files()?.getSecureContext(servername)
    );
  }

  private async run(): Promise<void> {
    const { nats, logger } = this.options;
    const kvKey = await ensureKvKey(this.options.kvKeyFile);
    const nc = await nats.connection();
    if (!nc || this.stopped) return;
    this.watcher = new CertificateWatcher({ nc, kvKey, logger });
    await this.watcher.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.stop();
  }
}
