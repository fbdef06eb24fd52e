#!/usr/bin/env node
/** The edge process: owns the public sockets and hands connections to pools (serviceMain reads the env, config and signals). */
import { edgeV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { Edge } from "./edge.js";
import { createEdgeAdmin, createEdgeControl } from "./server.js";

await serviceMain({
  name: "edge",
  section: "edge",
  env: process.env,
  drainTimeoutMs: 10_000,
  async start({ config, logger, registry, grpc, reloadConfig }) {
    const edge = new Edge(config, { logger, metrics: registry });
    await edge.start();

    const reload = async () => {
      await edge.reload((await reloadConfig()).config);
      logger.info({ routes: edge.routes.length }, "config reloaded");
    };
    grpc.add(edgeV1.EdgeControlService, createEdgeControl({ edge, reload }));
    grpc.add(edgeV1.EdgeAdminService, createEdgeAdmin({ edge, reload }));
    return {
      log: { handoff: config.edge.handoff.socket, listeners: edge.listening() },
      reload,
      async drain(deadlineMs) {
        await edge.drain(deadlineMs);
      },
      async stop() {
        await edge.stop();
      },
    };
  },
});
