#!/usr/bin/env node
/** A dns replica process: reads the environment, loads config and zones, starts, handles signals. */
import { loadConfig } from "@switchyard/config";
import { dnsV1 } from "@switchyard/proto";
import {
  createGrpcServer,
  createLogger,
  createMetricsRegistry,
  natsAuth,
  readToken,
  runService,
  StartupError,
  splitHostPort,
  startMetricsServer,
} from "@switchyard/runtime";
import { DnsService } from "./dns-service.js";
import { DnsMetrics } from "./metrics.js";
import { createDnsAdmin } from "./server.js";

const configPath = process.env.SWITCHYARD_CONFIG ?? "config/local.yaml";
const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token";
const logger = createLogger("dns", { level: process.env.SWITCHYARD_LOG_LEVEL ?? "info" });

await runService({
  name: "dns",
  logger,
  drainTimeoutMs: Number(process.env.SWITCHYARD_DRAIN_TIMEOUT_MS ?? 5000),
  async start() {
    const config = await loadConfig(configPath);
    if (!config.dns) throw new StartupError(`${configPath} has no dns section`);
    const dns = config.dns;
    const token = await readToken(tokenFile);
    const registry = createMetricsRegistry("dns");
    const metrics = new DnsMetrics(registry);
    // The edge's address: from the environment, else the config's edge.grpc (as the test worker does).
    const edge = process.env.SWITCHYARD_EDGE ?? config.edge.grpc;
    const service = await DnsService.create(dns, {
      edge,
      token,
      logger,
      metrics,
      natsServers: config.nats.servers,
      ...(config.certs && config.certs.certificates.length > 0
        ? { certificates: { kvKeyFile: process.env.SWITCHYARD_KV_KEY_FILE ?? ".switchyard/kv.key" } }
        : {}),
      natsAuth: natsAuth(config.nats, "dns"),
      ...(process.env.SWITCHYARD_INSTANCE ? { instance: process.env.SWITCHYARD_INSTANCE } : {}),
      // "0": dgram, "1": batched (when the addon loads); unset: config dns.udp.batch.
      ...(process.env.SWITCHYARD_DNS_UDP_BATCH
        ? { udpBatch: process.env.SWITCHYARD_DNS_UDP_BATCH !== "0" }
        : {}),
    });

    const grpc = createGrpcServer({ logger, token, service: "dns" });
    grpc.add(
      dnsV1.DnsAdminService,
      createDnsAdmin({
        zones: () => service.zones,
        files: () => service.files,
        sourceOf: (rr) => service.sourceOf(rr),
        ...(service.records ? { records: service.records } : {}),
      }),
    );
    // Per-replica overrides, so several replicas can run on one host (port 0: any free port).
    const grpcPort = await grpc.listen(process.env.SWITCHYARD_GRPC_ADDRESS ?? dns.grpc);
    const [metricsHost, metricsPort] = splitHostPort(process.env.SWITCHYARD_METRICS_ADDRESS ?? dns.metrics);
    const metricsServer = await startMetricsServer({
      host: metricsHost,
      port: metricsPort,
      registry,
      ready: () => true,
    });
    service.start();
    logger.info(
      {
        grpc: grpcPort,
        metrics: metricsServer.port,
        edge,
        zones: service.zones.zones.map((z) => z.origin),
        prebuilt: service.prebuilt,
      },
      "dns started",
    );
    return {
      async reload() {
        const next = await loadConfig(configPath);
        if (!next.dns) throw new StartupError(`${configPath} has no dns section`);
        await service.reload(next.dns);
        logger.info({ zones: service.zones.zones.map((z) => z.origin) }, "zones reloaded");
      },
      async drain(deadlineMs) {
        grpc.setServing("", false);
        await service.drain(deadlineMs);
      },
      async stop() {
        await service.stop();
        await grpc.shutdown(2000);
        await metricsServer.close();
      },
    };
  },
});
