#!/usr/bin/env node
/** A stream replica process: relays forward routes (serviceMain reads the env, config and signals). */
import { streamV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { streamSettings } from "./config.js";
import { StreamMetrics } from "./metrics.js";
import { createStreamAdmin } from "./server.js";
import { StreamService } from "./stream-service.js";
import { loadUdpBatch } from "./udp/load-udp-batch.js";

await serviceMain({
  name: "stream",
  section: "stream",
  env: process.env,
  drainTimeoutMs: 10_000,
  settings: streamSettings,
  async start({ settings, edge, logger, token, registry, grpc, env, reloadConfig }) {
    const metrics = new StreamMetrics(registry);
    const udpBatch = settings.udp === "batch" ? await loadUdpBatch(logger) : undefined;
    const service = new StreamService(settings, {
      udpBatch,
      edge,
      token,
      logger,
      metrics,
      ...(env.instance ? { instance: env.instance } : {}),
    });
    grpc.add(streamV1.StreamAdminService, createStreamAdmin({ routes: () => service.liveRoutes, metrics }));
    return {
      listening: () => service.start(),
      log: { edge, relay: service.relayKind, udp: service.udpKind, routes: service.routeNames },
      async reload() {
        service.reload((await reloadConfig()).settings);
        logger.info({ routes: service.routeNames }, "forward routes reloaded");
      },
      drain: (deadlineMs) => service.drain(deadlineMs),
      stop: () => service.stop(),
    };
  },
});
