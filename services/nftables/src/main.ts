#!/usr/bin/env node
/** The nftables agent process: reads the environment, checks its capability, applies, watches, handles signals. */
import { watch } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { firewallV1 } from "@switchyard/proto";
import {
  connectNats,
  createGrpcServer,
  createLogger,
  createMetricsRegistry,
  type NatsConnection,
  natsAuth,
  openKv,
  readToken,
  runService,
  StartupError,
  splitHostPort,
  startMetricsServer,
} from "@switchyard/runtime";
import { listenForBans } from "./ban-listener.js";
import { BANS_BUCKET, BanStore } from "./ban-store.js";
import { requireNetAdmin } from "./capabilities.js";
import { type FirewallConfig, loadFirewallConfig } from "./config.js";
import { FirewallAgent } from "./firewall-agent.js";
import { FirewallMetrics } from "./metrics.js";
import { NftRunner } from "./nft-runner.js";
import { Reconciler } from "./reconciler.js";
import { createFirewallAdmin } from "./server.js";

const configPath = resolve(process.env.SWITCHYARD_CONFIG ?? "config/local.yaml");
const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token";
const logger = createLogger("nftables", { level: process.env.SWITCHYARD_LOG_LEVEL ?? "info" });

await runService({
  name: "nftables",
  logger,
  drainTimeoutMs: Number(process.env.SWITCHYARD_DRAIN_TIMEOUT_MS ?? 5000),
  async start() {
    await requireNetAdmin();
    let loaded: FirewallConfig = await loadFirewallConfig(configPath);
    const token = await readToken(tokenFile);
    const registry = createMetricsRegistry("nftables");
    const metrics = new FirewallMetrics(registry);
    const nft = new NftRunner();
    const agent = new FirewallAgent({ nft, logger, metrics, bans: loaded.firewall.bans });
    try {
      await agent.apply(loaded.ruleset, "start");
    } catch (error) {
      throw new StartupError("the kernel refused the ruleset at start", { cause: error });
    }
    const reconciler = new Reconciler(agent, logger, loaded.firewall.reconcileIntervalMs);
    reconciler.start();

    const grpc = createGrpcServer({ logger, token, service: "nftables" });
    grpc.add(firewallV1.FirewallAdminService, createFirewallAdmin({ agent, nft, metrics }));
    const grpcPort = await grpc.listen(process.env.SWITCHYARD_GRPC_ADDRESS ?? loaded.firewall.grpc);
    const [metricsHost, metricsPort] = splitHostPort(
      process.env.SWITCHYARD_METRICS_ADDRESS ?? loaded.firewall.metrics,
    );
    const metricsServer = await startMetricsServer({
      host: metricsHost,
      port: metricsPort,
      registry,
      ready: () => agent.current !== undefined,
    });

    // NATS is for bans only: the config's rules hold without it, and bans join once it is reachable.
    let nc: NatsConnection | undefined;
    let stopping = false;
    void (async () => {
      nc = await connectNats({
        servers: loaded.config.nats.servers,
        ...natsAuth(loaded.config.nats, "nftables"),
        name: `nftables-${hostname()}`,
        logger,
      });
      if (stopping) return;
      const kv = await openKv(nc, BANS_BUCKET, { history: 1 });
      const restored = await agent.attachStore(new BanStore(kv));
      listenForBans(nc, agent, metrics, logger);
      logger.info({ restored, bucket: BANS_BUCKET }, "bans restored from NATS KV; listening on firewall.ban");
    })().catch((error: unknown) =>
      logger.error({ err: error }, "NATS unavailable: bans come only over gRPC"),
    );

    const reload = async (): Promise<void> => {
      let next: FirewallConfig;
      try {
        next = await loadFirewallConfig(configPath);
      } catch (error) {
        agent.refused("reload", error);
        throw error;
      }
      // Unchanged and in force: nothing to do (after a refusal, applying again clears the report).
      if (
        agent.lastApply?.ok === true &&
        JSON.stringify(next.ruleset) === JSON.stringify(agent.current) &&
        JSON.stringify(next.firewall.bans) === JSON.stringify(loaded.firewall.bans)
      ) {
        logger.info("config unchanged for the firewall: nothing to apply");
        return;
      }
      await agent.apply(next.ruleset, "reload", next.firewall.bans);
      loaded = next;
      reconciler.setInterval(next.firewall.reconcileIntervalMs);
    };

    // A changed config file is applied like a SIGHUP (the directory is watched: editors replace files).
    let debounce: NodeJS.Timeout | undefined;
    const watcher = watch(dirname(configPath), (_event, file) => {
      if (file !== basename(configPath)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        logger.info({ file: configPath }, "config file changed: reloading");
        reload().catch((error: unknown) =>
          logger.error({ err: error }, "reload failed: keeping the running ruleset"),
        );
      }, 300);
    });

    logger.info(
      { grpc: grpcPort, metrics: metricsServer.port, config: configPath },
      "nftables agent started",
    );
    return {
      reload,
      async drain() {
        grpc.setServing("", false);
      },
      async stop() {
        stopping = true;
        watcher.close();
        clearTimeout(debounce);
        reconciler.stop();
        agent.stop();
        await nc?.close();
        await grpc.shutdown(2000);
        await metricsServer.close();
      },
    };
  },
});
