#!/usr/bin/env node
/** The edge process: owns the public sockets (serviceMain reads the env, config and signals). */
import { edgeV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { edgeSettings } from "./config.js";
import { Edge } from "./edge.js";
import { createEdgeAdmin, createEdgeControl } from "./server.js";

await serviceMain({
  name: "edge",
  section: "edge",
  settings: edgeSettings,
  env: process.env,
  drainTimeoutMs: 10_000,
  async start({ settings, logger, registry, grpc, reloadConfig }) {
    const edge = new Edge(settings, { logger, metrics: registry });
    await edge.start();

    const reload = async () => {
      const next = await reloadConfig();
      await edge.reload(next.settings);
      logger.info({ routes: edge.routes.length }, "config reloaded");
    };
    grpc.add(edgeV1.EdgeControlService, createEdgeControl({ edge, reload }));
    grpc.add(edgeV1.EdgeAdminService, createEdgeAdmin({ edge, reload }));
    return {
      log: { handoff: settings.handoff.path, listeners: edge.listening() },
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
