#!/usr/bin/env node
/** The edge process: reads the environment, loads config, starts, and handles signals. */
import { loadConfig } from "@switchyard/config";
import { edgeV1 } from "@switchyard/proto";
import {
  createGrpcServer,
  createLogger,
  createMetricsRegistry,
  readToken,
  runService,
  splitHostPort,
  startMetricsServer,
} from "@switchyard/runtime";
import { Edge } from "./edge.js";
import { createEdgeAdmin, createEdgeControl } from "./server.js";

const configPath = process.env.SWITCHYARD_CONFIG ?? "config/local.yaml";
const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token";
const logger = createLogger("edge", { level: process.env.SWITCHYARD_LOG_LEVEL ?? "info" });

await runService({
  name: "edge",
  logger,
  drainTimeoutMs: Number(process.env.SWITCHYARD_DRAIN_TIMEOUT_MS ?? 10_000),
  async start() {
    const config = await loadConfig(configPath);
    const token = await readToken(tokenFile);
    const metrics = createMetricsRegistry("edge");
    const edge = new Edge(config, { logger, metrics });
    await edge.start();

    const reload = async () => {
      const next = await loadConfig(configPath);
      await edge.reload(next);
      logger.info({ routes: edge.routes.length }, "config reloaded");
    };
    const grpc = createGrpcServer({ logger, token, service: "edge" });
    grpc.add(edgeV1.EdgeControlService, createEdgeControl({ edge, reload }));
    grpc.add(edgeV1.EdgeAdminService, createEdgeAdmin({ edge, reload }));
    const grpcPort = await grpc.listen(config.edge.grpc);
    const [metricsHost, metricsPort] = splitHostPort(config.edge.metrics);
    const metricsServer = await startMetricsServer({
      host: metricsHost,
      port: metricsPort,
      registry: metrics,
      ready: () => true,
    });
    logger.info(
      {
        grpc: grpcPort,
        metrics: metricsServer.port,
        handoff: config.edge.handoff.socket,
        listeners: edge.listening(),
      },
      "edge started",
    );
    return {
      reload,
      async drain(deadlineMs) {
        grpc.setServing("", false);
        await edge.drain(deadlineMs);
      },
      async stop() {
        await edge.stop();
        await grpc.shutdown(2000);
        await metricsServer.close();
      },
    };
  },
});
