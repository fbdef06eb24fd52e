import type { LoadedConfig } from "@switchyard/config";
import { closeNats, connectNats, type Logger, type NatsConnection, natsAuth } from "@switchyard/runtime";
import { accountKey } from "./acme/account.js";
import { AcmeIssuer } from "./acme/issuer.js";
import { type Buckets, openBuckets } from "./buckets.js";
import { InternalCa } from "./ca/internal-ca.js";
import type { CertsSettings } from "./config.js";
import { acmeIssuer, type Issuer, internalIssuer } from "./issuers.js";
import type { CertsMetrics } from "./metrics.js";
import { RenewalScheduler } from "./renewal/scheduler.js";

export interface CertsServiceDeps {
  config: LoadedConfig;
  settings: CertsSettings;
  kvKey: Buffer;
  instance: string;
  logger: Logger;
  metrics: CertsMetrics;
}

/** NATS, the buckets, the issuer (internal CA or ACME account) and the scheduler, wired together. */
export class CertsService {
  private constructor(
    readonly nc: NatsConnection,
    readonly buckets: Buckets,
    readonly issuer: Issuer,
    readonly scheduler: RenewalScheduler,
    readonly ca: InternalCa | undefined,
  ) {}

  static async connect(deps: CertsServiceDeps): Promise<CertsService> {
    const { config, settings, kvKey, instance, logger, metrics } = deps;
    const { section, directoryUrl } = settings;
    const nc = await connectNats({
      servers: config.nats.servers,
      ...natsAuth(config.nats, "certs"),
      name: `certs-${instance}`,
      logger,
    });
    try {
      const buckets = await openBuckets(nc, section.lockTtlMs);
      let issuer: Issuer;
      let ca: InternalCa | undefined;
      if (directoryUrl === "internal") {
        ca = await InternalCa.open(buckets.state, kvKey);
        issuer = internalIssuer(ca, section.internal.lifetimeSeconds * 1000);
      } else {
        const acme = new AcmeIssuer({
          directoryUrl,
          accountKey: await accountKey(buckets.state, directoryUrl, kvKey),
          ...(section.email ? { email: section.email } : {}),
          ...(settings.eab ? { eab: settings.eab } : {}),
          acme: buckets.acme,
          dns01: section.dns01,
          logger,
        });
        issuer = acmeIssuer(directoryUrl, acme);
      }
      const scheduler = new RenewalScheduler({
        section,
        buckets,
        kvKey,
        issuer,
        holder: instance,
        logger,
        metrics,
      });
      return new CertsService(nc, buckets, issuer, scheduler, ca);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.scheduler.stop();
    await closeNats(this.nc);
  }
}
