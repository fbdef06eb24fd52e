#!/usr/bin/env node
/** A dns replica process: loads zones and answers (serviceMain reads the env, config and signals). */
import { dnsV1 } from "@switchyard/proto";
import { natsAuth, serviceMain } from "@switchyard/runtime";
import { dnsSettings } from "./config.js";
import { DnsService } from "./dns-service.js";
import { DnsMetrics } from "./metrics.js";
import { createDnsAdmin } from "./server.js";

await serviceMain({
  name: "dns",
  section: "dns",
  env: process.env,
  drainTimeoutMs: 5000,
  settings: dnsSettings,
  async start({ config, settings, env, edge, logger, token, registry, grpc, reloadConfig }) {
    const metrics = new DnsMetrics(registry);
    const service = await DnsService.create(settings, {
      edge,
      token,
      logger,
      metrics,
      natsServers: config.nats.servers,
      ...(config.certs && config.certs.certificates.length > 0
        ? { certificates: { kvKeyFile: env.kvKeyFile } }
        : {}),
      kvKeyFile: env.kvKeyFile,
      natsAuth: natsAuth(config.nats, "dns"),
      ...(env.instance ? { instance: env.instance } : {}),
      // "0": dgram, "1": batched (when the addon loads); unset: config dns.udp.batch.
      ...(process.env.SWITCHYARD_DNS_UDP_BATCH
        ? { udpBatch: process.env.SWITCHYARD_DNS_UDP_BATCH !== "0" }
        : {}),
    });
    grpc.add(
      dnsV1.DnsAdminService,
      createDnsAdmin({
        zones: () => service.zones,
        files: () => service.files,
        sourceOf: (rr) => service.sourceOf(rr),
        keys: () => service.signingKeys,
        rollover: {
          step: (origin, step, force) => service.rollover(origin, step, force),
          waits: (set) => service.zoneKeys.waits(set.origin, set.algorithmName),
        },
        ...(service.records ? { records: service.records } : {}),
      }),
    );
    return {
      listening: () => service.start(),
      log: { edge, zones: service.zones.zones.map((z) => z.origin), prebuilt: service.prebuilt },
      async reload() {
        await service.reload((await reloadConfig()).settings);
        logger.info({ zones: service.zones.zones.map((z) => z.origin) }, "zones reloaded");
      },
      async drain(deadlineMs) {
        await service.drain(deadlineMs);
      },
      async stop() {
        await service.stop();
      },
    };
  },
});
