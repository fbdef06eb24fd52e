#!/usr/bin/env node
/** The certs process: reads the environment, loads config, joins the edge's `certs` pool, issues and renews, handles signals. */
import { hostname } from "node:os";
import { ensureKvKey } from "@switchyard/certstore";
import { certsV1 } from "@switchyard/proto";
import {
  createGrpcServer,
  createLogger,
  createMetricsRegistry,
  readToken,
  runService,
  splitHostPort,
  startMetricsServer,
} from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { installAcmeHttp } from "./acme-problems.js";
import { CertsService } from "./certs-service.js";
import { loadCertsConfig } from "./config.js";
import { CertsError } from "./errors.js";
import { Http01Responder } from "./http01-responder.js";
import { CertsMetrics } from "./metrics.js";
import { createCertsAdmin } from "./server.js";

const configPath = process.env.SWITCHYARD_CONFIG ?? "config/local.yaml";
const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token";
const kvKeyFile = process.env.SWITCHYARD_KV_KEY_FILE ?? ".switchyard/kv.key";
const instance = process.env.SWITCHYARD_INSTANCE ?? `${hostname()}-${process.pid}`;
const logger = createLogger("certs", { level: process.env.SWITCHYARD_LOG_LEVEL ?? "info" });

await runService({
  name: "certs",
  logger,
  drainTimeoutMs: Number(process.env.SWITCHYARD_DRAIN_TIMEOUT_MS ?? 10_000),
  async start() {
    const { config, settings } = await loadCertsConfig(configPath);
    const section = settings.section;
    const token = await readToken(tokenFile);
    const kvKey = await ensureKvKey(kvKeyFile);
    const registry = createMetricsRegistry("certs");
    const metrics = new CertsMetrics(registry);
    installAcmeHttp({
      ...(settings.directoryCa ? { ca: settings.directoryCa } : {}),
      onProblem: (problem) => metrics.acmeError(problem.type),
    });

    let service: CertsService | undefined;
    const responder = new Http01Responder(() => service?.buckets.acme, logger);
    const worker = new EdgeWorker({
      edge: process.env.SWITCHYARD_EDGE ?? config.edge.grpc,
      token,
      role: "certs",
      pool: "certs",
      instance,
      logger,
      onConnection: (socket) => responder.handle(socket),
      onDrainRequest: () => logger.info("drain requested by the edge"),
    });
    worker.start();

    service = await CertsService.connect({ config, settings, kvKey, instance, logger, metrics });
    const grpc = createGrpcServer({ logger, token, service: "certs" });
    grpc.add(
      certsV1.CertsAdminService,
      createCertsAdmin({
        scheduler: service.scheduler,
        directory: service.issuer.directory,
        caPem: service.ca?.certPem,
      }),
    );
    const grpcPort = await grpc.listen(process.env.SWITCHYARD_GRPC_ADDRESS ?? section.grpc);
    const [metricsHost, metricsPort] = splitHostPort(
      process.env.SWITCHYARD_METRICS_ADDRESS ?? section.metrics,
    );
    const metricsServer = await startMetricsServer({
      host: metricsHost,
      port: metricsPort,
      registry,
      ready: () => true,
    });
    service.scheduler.start();
    logger.info(
      {
        grpc: grpcPort,
        metrics: metricsServer.port,
        issuer: service.issuer.kind,
        directory: service.issuer.directory,
        certificates: section.certificates.map((c) => c.name),
        instance,
      },
      "certs started",
    );
    const running = service;
    return {
      async reload() {
        const next = await loadCertsConfig(configPath);
        if (next.settings.directoryUrl !== settings.directoryUrl) {
          throw new CertsError("certs.directory changed: restart the certs replicas to switch issuers");
        }
        running.scheduler.reconfigure(next.settings.section);
        logger.info(
          { certificates: next.settings.section.certificates.map((c) => c.name) },
          "certs config reloaded",
        );
      },
      async drain() {
        grpc.setServing("", false);
        await worker.leave();
        await running.scheduler.stop();
      },
      async stop() {
        await worker.stop();
        await responder.close();
        await running.stop();
        await grpc.shutdown(2000);
        await metricsServer.close();
      },
    };
  },
});
