#!/usr/bin/env node
/** The certs process: joins the edge's `certs` pool, issues and renews (serviceMain reads the env, config and signals). */
import { hostname } from "node:os";
import { ensureKvKey } from "@switchyard/certstore";
import { certsV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { installAcmeHttp } from "./acme/problems.js";
import { CertsService } from "./certs-service.js";
import { Http01Responder } from "./challenges/http01-responder.js";
import { certsSettings } from "./config.js";
import { CertsError } from "./errors.js";
import { CertsMetrics } from "./metrics.js";
import { createCertsAdmin } from "./server.js";

await serviceMain({
  name: "certs",
  section: "certs",
  settings: certsSettings,
  env: process.env,
  drainTimeoutMs: 10_000,
  async start({ config, section, settings, env, edge, logger, token, registry, grpc, reloadConfig }) {
    const instance = env.instance ?? `${hostname()}-${process.pid}`;
    const kvKey = await ensureKvKey(env.kvKeyFile);
    const metrics = new CertsMetrics(registry);
    installAcmeHttp({
      ...(settings.directoryCa ? { ca: settings.directoryCa } : {}),
      onProblem: (problem) => metrics.acmeError(problem.type),
    });

    let service: CertsService | undefined;
    const responder = new Http01Responder(() => service?.buckets.acme, logger);
    const worker = new EdgeWorker({
      edge,
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
    const running = service;
    grpc.add(
      certsV1.CertsAdminService,
      createCertsAdmin({
        scheduler: running.scheduler,
        directory: running.issuer.directory,
        caPem: running.ca?.certPem,
      }),
    );
    return {
      listening: () => running.scheduler.start(),
      log: {
        issuer: running.issuer.kind,
        directory: running.issuer.directory,
        certificates: section.certificates.map((c) => c.name),
        instance,
      },
      async reload() {
        const next = await reloadConfig();
        if (next.settings.directoryUrl !== settings.directoryUrl) {
          throw new CertsError("certs.directory changed: restart the certs replicas to switch issuers");
        }
        running.scheduler.reconfigure(next.section);
        logger.info({ certificates: next.section.certificates.map((c) => c.name) }, "certs config reloaded");
      },
      async drain() {
        await worker.leave();
        await running.scheduler.stop();
      },
      async stop() {
        await worker.stop();
        await responder.close();
        await running.stop();
      },
    };
  },
});
