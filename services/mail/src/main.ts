#!/usr/bin/env node
/** The mail worker process: joins the edge's `mail` pool, takes and relays mail (serviceMain reads the env, config and signals). */
import { resolve } from "node:path";
import { mailV1 } from "@switchyard/proto";
import { natsAuth, serviceMain } from "@switchyard/runtime";
import { EdgeWorker, joinWhenReady } from "@switchyard/worker";
import { startAuthGuard } from "./auth/auth-guard.js";
import { changesNeedingRestart, mailSettings, reloadableSettings } from "./config.js";
import { messageReviews } from "./intake/message-reviews.js";
import { AuthMetrics, MailMetrics, QueueMetrics } from "./metrics.js";
import { createBouncer } from "./relay/dsn.js";
import { createOutbound } from "./relay/outbound-setup.js";
import { DeliveryQueue } from "./relay/relay-queue.js";
import { createMailAdmin } from "./server.js";
import { AddressPolicy } from "./smtp/address-policy.js";
import { SmtpFront } from "./smtp/smtp-front.js";
import { nodeFileOps } from "./spool/file-ops.js";
import { maildirCommit } from "./spool/maildir-commit.js";
import { Spool } from "./spool/spool.js";
import { ownerName } from "./spool/spool-layout.js";
import { SpoolRecovery } from "./spool/spool-recovery.js";
import { LiveCertificates } from "./tls/live-certificates.js";
import { loadTlsMaterial } from "./tls/tls-material.js";

/** How long a replica with certs-bucket certificates waits for the bucket before it joins anyway. */
const MAIL_CERTIFICATES_WAIT_MS = 15_000;

await serviceMain({
  name: "mail",
  section: "mail",
  env: process.env,
  drainTimeoutMs: 10_000,
  settings: mailSettings,
  async start({ config, settings, env, edge, logger, token, registry, grpc, reloadConfig }) {
    const { mail } = settings;
    const tls = await loadTlsMaterial(mail.tls, mail.hostname);
    let front: SmtpFront | undefined;
    const live = LiveCertificates.start({
      config,
      mail,
      fallback: tls,
      kvKeyFile: env.kvKeyFile,
      instance: env.instance ?? `${mail.hostname}-${process.pid}`,
      logger,
      onDefaultContext: (context) => front?.useDefaultContext(context),
    });
    if (tls.selfSigned && !live)
      logger.warn({ hostname: mail.hostname }, "no mail.tls files: using a self-signed certificate");
    maildirCommit(); // the native delivery path is built, or the start stops here
    const spool = new Spool(resolve(mail.spool), nodeFileOps, mail.hostname, ownerName(env.instance));
    await spool.init();
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
    const reviews = messageReviews(mail, settings.dkimKeys, authMetrics, logger);
    const auth = startAuthGuard({
      limits: mail.authLimits,
      natsServers: config.nats.servers,
      natsAuth: natsAuth(config.nats, "mail"),
      name: `mail-${env.instance ?? process.pid}`,
      metrics: authMetrics,
      logger,
    });
    front = new SmtpFront({
      mail,
      policy,
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
      edge,
      token,
      role: "mail",
      pool: "mail",
      ...(env.instance ? { instance: env.instance } : {}),
      logger,
      onConnection: (socket, info) => smtp.handle(socket, info, info.remote, info.local),
      onDrainRequest: () => logger.info("drain requested by the edge"),
    });

    grpc.add(
      mailV1.MailAdminService,
      createMailAdmin({
        mail,
        spool,
        activeSessions: () => smtp.activeSessions,
        kickQueue: () => queue.kick(),
      }),
    );
    let running = mail;
    let stopping = false;
    return {
      async reload() {
        const next = (await reloadConfig()).settings;
        const kept = changesNeedingRestart(running, next.mail);
        if (kept.length > 0) logger.warn({ settings: kept }, "these settings change only on restart; kept");
        const applied = reloadableSettings(running, next.mail);
        const nextReviews = messageReviews(applied, next.dkimKeys, authMetrics, logger);
        policy.use(applied);
        smtp.useSettings(applied, nextReviews);
        running = applied;
        logger.info(
          { mailboxes: applied.mailboxes.length, aliases: Object.keys(applied.aliases).length },
          "mail settings reloaded",
        );
      },
      ready: () => worker.attached,
      // With certificates from the certs bucket, STARTTLS and SMTPS serve the fallback pair until it
      // is read: the pool is joined once it is (or after MAIL_CERTIFICATES_WAIT_MS without NATS).
      listening: () =>
        live
          ? void joinWhenReady({
              ready: live.ready,
              isReady: () => live.isReady,
              waitMs: MAIL_CERTIFICATES_WAIT_MS,
              logger,
              meanwhile: "STARTTLS and SMTPS present the fallback certificate",
              join: () => worker.start(),
              stopped: () => stopping,
            })
          : worker.start(),
      log: { spool: spool.root },
      async drain(deadlineMs) {
        stopping = true;
        await worker.leave();
        await smtp.close(deadlineMs);
        await queue.stop();
      },
      async stop() {
        stopping = true;
        await worker.stop();
        await smtp.close(0);
        await auth.close();
        await live?.stop();
        await queue.stop();
        recovery.stop();
        await spool.retire().catch((err: unknown) => logger.warn({ err }, "cannot hand the spool back"));
      },
    };
  },
});
