#!/usr/bin/env node
/** The mail worker process: reads the environment, loads config, joins the edge's `mail` pool, handles signals. */
import { resolve } from "node:path";
import { mailV1 } from "@switchyard/proto";
import {
  createGrpcServer,
  createLogger,
  createMetricsRegistry,
  natsAuth,
  readToken,
  runService,
  splitHostPort,
  startMetricsServer,
} from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { AddressPolicy } from "./address-policy.js";
import { startAuthGuard } from "./auth-guard.js";
import { AuthMetrics } from "./auth-metrics.js";
import { loadMailSection } from "./config.js";
import { createBouncer } from "./dsn.js";
import { nodeFileOps } from "./file-ops.js";
import { LiveCertificates } from "./live-certificates.js";
import { messageReviews } from "./message-reviews.js";
import { MailMetrics } from "./metrics.js";
import { createOutbound } from "./outbound-setup.js";
import { QueueMetrics } from "./queue-metrics.js";
import { DeliveryQueue } from "./relay-queue.js";
import { createMailAdmin } from "./server.js";
import { SmtpFront } from "./smtp-front.js";
import { ownerName, Spool } from "./spool.js";
import { SpoolRecovery } from "./spool-recovery.js";
import { loadTlsMaterial } from "./tls-material.js";

const configPath = process.env.SWITCHYARD_CONFIG ?? "config/local.yaml";
const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token";
const kvKeyFile = process.env.SWITCHYARD_KV_KEY_FILE ?? ".switchyard/kv.key";
const logger = createLogger("mail", { level: process.env.SWITCHYARD_LOG_LEVEL ?? "info" });

await runService({
  name: "mail",
  logger,
  drainTimeoutMs: Number(process.env.SWITCHYARD_DRAIN_TIMEOUT_MS ?? 10_000),
  async start() {
    const { config, mail } = await loadMailSection(configPath);
    const token = await readToken(tokenFile);
    const tls = await loadTlsMaterial(mail.tls, mail.hostname);
    let front: SmtpFront | undefined;
    const live = LiveCertificates.start({
      config,
      mail,
      fallback: tls,
      kvKeyFile,
      instance: process.env.SWITCHYARD_INSTANCE ?? `${mail.hostname}-${process.pid}`,
      logger,
      onDefaultContext: (context) => front?.useDefaultContext(context),
    });
    if (tls.selfSigned && !live)
      logger.warn({ hostname: mail.hostname }, "no mail.tls files: using a self-signed certificate");
    const spool = new Spool(
      resolve(mail.spool),
      nodeFileOps,
      mail.hostname,
      ownerName(process.env.SWITCHYARD_INSTANCE),
    );
    await spool.init();
    const registry = createMetricsRegistry("mail");
    const metrics = new MailMetrics(registry);
    const queueMetrics = new QueueMetrics(registry);
    const policy = new AddressPolicy(mail);
    const bouncer = createBouncer({
      spool,
      policy,
      hostname: mail.hostname,
      queue: { kick: () => queue.kick() },
      logger,
    });
    const queue: DeliveryQueue = new DeliveryQueue({
      spool,
      config: mail.queue,
      logger,
      remote: await createOutbound(mail, logger, queueMetrics),
      bounce: async (message, failed) => {
        await bouncer(message, failed);
        queueMetrics.bounce();
      },
      onAttempt: (outcome, count) => queueMetrics.attempt(outcome, count),
    });
    const recovery = new SpoolRecovery(spool, {
      leaseMs: mail.queue.leaseMs,
      logger,
      inFlight: () => spool.held,
      onRecovered: () => queue.kick(),
      onSwept: (r) => queueMetrics.recovery(r.recovered, r.dropped),
    });
    const recovered = await recovery.start();
    logger.info({ owner: spool.owner, ...recovered }, "spool recovery pass done");
    queue.start();
    const authMetrics = new AuthMetrics(registry);
    const reviews = await messageReviews(mail, authMetrics, logger);
    const auth = startAuthGuard({
      limits: mail.authLimits,
      natsServers: config.nats.servers,
      natsAuth: natsAuth(config.nats, "mail"),
      name: `mail-${process.env.SWITCHYARD_INSTANCE ?? process.pid}`,
      metrics: authMetrics,
      logger,
    });
    front = new SmtpFront({
      mail,
      policy: new AddressPolicy(mail),
      spool,
      queue,
      metrics,
      logger,
      tls,
      reviews,
      authGuard: auth.guard,
      ...(live ? { SNICallback: live.SNICallback } : {}),
    });
    const smtp = front;
    // Certificates that arrived while the front was being built.
    if (live?.defaultContext) smtp.useDefaultContext(live.defaultContext);

    const worker = new EdgeWorker({
      edge: process.env.SWITCHYARD_EDGE ?? config.edge.grpc,
      token,
      role: "mail",
      pool: "mail",
      ...(process.env.SWITCHYARD_INSTANCE ? { instance: process.env.SWITCHYARD_INSTANCE } : {}),
      logger,
      onConnection: (socket, info) => smtp.handle(socket, info, info.remote, info.local),
      onDrainRequest: () => logger.info("drain requested by the edge"),
    });

    const grpc = createGrpcServer({ logger, token, service: "mail" });
    grpc.add(
      mailV1.MailAdminService,
      createMailAdmin({
        mail,
        spool,
        activeSessions: () => smtp.activeSessions,
        kickQueue: () => queue.kick(),
      }),
    );
    const grpcPort = await grpc.listen(process.env.SWITCHYARD_GRPC_ADDRESS ?? mail.grpc);
    const [metricsHost, metricsPort] = splitHostPort(process.env.SWITCHYARD_METRICS_ADDRESS ?? mail.metrics);
    const metricsServer = await startMetricsServer({
      host: metricsHost,
      port: metricsPort,
      registry,
      ready: () => worker.attached,
    });
    worker.start();
    logger.info({ grpc: grpcPort, metrics: metricsServer.port, spool: spool.root }, "mail started");
    return {
      async drain(deadlineMs) {
        grpc.setServing("", false);
        await worker.leave();
        await smtp.close(deadlineMs);
        await queue.stop();
      },
      async stop() {
        await worker.stop();
        await smtp.close(0);
        await auth.close();
        await live?.stop();
        await queue.stop();
        recovery.stop();
        await spool.retire().catch((err: unknown) => logger.warn({ err }, "cannot hand the spool back"));
        await grpc.shutdown(2000);
        await metricsServer.close();
      },
    };
  },
});
