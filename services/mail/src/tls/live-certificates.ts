import type { SecureContext } from "node:tls";
import { CertificateWatcher, ensureKvKey } from "@switchyard/certstore";
import type { MailSection, SwitchyardConfig } from "@switchyard/config";
import { connectNats, type Logger, type NatsConnection, natsAuth } from "@switchyard/runtime";
import type { TlsMaterial } from "./tls-material.js";

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

export interface LiveCertificateOptions {
  config: SwitchyardConfig;
  mail: MailSection;
  fallback: TlsMaterial;
  kvKeyFile: string;
  instance: string;
  logger: Logger;
  /** The context for clients without SNI changed (a certificate arrived, was renewed or removed). */
  onDefaultContext: (context: SecureContext) => void;
}

/**
 * Certificates from the certs service, live, when the config's `certs` section has certificates:
 * NATS is joined in the background (the mail ports serve `fallback`, the files or the self-signed
 * pair, until then), a CertificateWatcher follows the `certs` bucket, SNI picks by name, and clients
 * without SNI get the mail hostname's certificate. While NATS is away the watcher keeps what it has.
 */
export class LiveCertificates {
  private watcher: CertificateWatcher | undefined;
  private nc: NatsConnection | undefined;
  private stopped = false;

  /** The certs bucket has been read (the certificates in it serve). */
  isReady = false;
  private readyResolve!: () => void;
  /** Resolves once the certs bucket has been read; never while NATS cannot be reached. */
  readonly ready = new Promise<void>((resolve) => {
    this.readyResolve = () => {
      this.isReady = true;
      resolve();
    };
  });

  private constructor(private readonly options: LiveCertificateOptions) {}

  /** Undefined when the config lists no certificates: the mail ports keep the files or self-signed pair. */
  static start(options: LiveCertificateOptions): LiveCertificates | undefined {
    if (!options.config.certs || options.config.certs.certificates.length === 0) return undefined;
    const live = new LiveCertificates(options);
    live.run().catch((err: unknown) => options.logger.error({ err }, "cannot follow certificates from NATS"));
    return live;
  }

  /** The context for clients without SNI, once the watcher runs (before: undefined, the fallback serves). */
  get defaultContext(): SecureContext | undefined {
    return this.watcher?.selector.defaultContext;
  }

  readonly SNICallback: SniCallback = (servername, cb) => {
    const found = this.watcher?.selector.select(servername);
    cb(null, found?.context);
  };

  private async run(): Promise<void> {
    const { config, mail, fallback, logger } = this.options;
    const kvKey = await ensureKvKey(this.options.kvKeyFile);
    const nc = await connectNats({
      servers: config.nats.servers,
      ...natsAuth(config.nats, "mail"),
      name: `mail-${this.options.instance}`,
      logger,
    });
    if (this.stopped) return void (await nc.close());
    this.nc = nc;
    const watcher = new CertificateWatcher({
      nc,
      kvKey,
      logger,
      defaultName: mail.hostname,
      fallback: { cert: fallback.cert, key: fallback.key },
    });
    this.watcher = watcher;
    const apply = () => this.options.onDefaultContext(watcher.selector.defaultContext);
    watcher.on("certificate", apply);
    watcher.on("removed", apply);
    await watcher.start();
    apply();
    this.readyResolve();
    logger.info({ certificates: watcher.selector.size }, "certificates loaded from the certs bucket");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.stop();
    await this.nc?.close();
  }
}
