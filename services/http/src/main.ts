#!/usr/bin/env node
/** An http replica process: TLS termination and reverse proxying for the edge's `http` pool. */
import { httpV1 } from "@switchyard/proto";
import { createBufferedLogger, natsAuth, serviceMain } from "@switchyard/runtime";
import { httpSettings } from "./config.js";
import { HttpService } from "./http-service.js";
import { HttpMetrics } from "./metrics.js";
import { createHttpAdmin } from "./server.js";

await serviceMain({
  name: "http",
  section: "http",
  env: process.env,
  drainTimeoutMs: 10_000,
  settings: httpSettings,
  async start({ config, settings, env, edge, logger, token, registry, grpc, reloadConfig }) {
    const metrics = new HttpMetrics(registry);
    // One access line per request: written in blocks, not one synchronous write each.
    const access = createBufferedLogger("http", { level: logger.level });
    const service = new HttpService(settings, {
      edge,
      token,
      logger,
      accessLog: access,
      metrics,
      kvKeyFile: env.kvKeyFile,
      nats: { servers: config.nats.servers, auth: natsAuth(config.nats, "http") },
      ...(env.instance ? { instance: env.instance } : {}),
    });
    grpc.add(httpV1.HttpAdminService, createHttpAdmin(service));
    return {
      listening: () => service.start(),
      log: { edge, sites: settings.sites.sites.map((s) => s.name) },
      async reload() {
        await service.reload((await reloadConfig()).settings);
        logger.info({ sites: service.sites.sites.map((s) => s.name) }, "http config reloaded");
      },
      async drain(deadlineMs) {
        await service.drain(deadlineMs);
      },
      async stop() {
        await service.stop();
        access.flush();
      },
    };
  },
});
