import type { SecureContext } from "node:tls";
import { CertificateWatcher, ensureKvKey } from "@switchyard/certstore";
import { connectNats, type Logger, type NatsConnection } from "@switchyard/runtime";
import type { TlsContextSource } from "./tls-context.js";

export interface StoredCertificatesOptions {
  servers: string[];
  name: string;
  kvKeyFile: string;
  logger: Logger;
  /** The DoH files from the config, for names no stored certificate covers (and until NATS answers). */
  files: () => TlsContextSource | undefined;
}

/**
 * DoH certificates from the certs service: a CertificateWatcher on the `certs` bucket, joined in
 * the background; SNI picks the stored certificate (exact, then one-label wildcard), else the DoH
 * files. A renewed certificate serves the next handshake; while NATS is away the replica keeps
 * what it has.
 */
export class StoredCertificates implements TlsContextSource {
  private watcher: CertificateWatcher | undefined;
  private nc: NatsConnection | undefined;
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
    const { servers, name, logger } = this.options;
    const kvKey = await ensureKvKey(this.options.kvKeyFile);
    const nc = await connectNats({ servers, name, logger });
    if (this.stopped) return void (await nc.close());
    this.nc = nc;
    this.watcher = new CertificateWatcher({ nc, kvKey, logger });
    await this.watcher.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.stop();
    await this.nc?.close();
  }
}
