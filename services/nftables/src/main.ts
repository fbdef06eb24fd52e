#!/usr/bin/env node
/** The nftables agent process: checks its capability, applies, watches (serviceMain reads the env, config and signals). */
import { watch } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { firewallV1 } from "@switchyard/proto";
import {
  connectNats,
  type NatsConnection,
  natsAuth,
  openKv,
  StartupError,
  serviceMain,
} from "@switchyard/runtime";
import { listenForBans } from "./bans/ban-listener.js";
import { BANS_BUCKET, BanStore } from "./bans/ban-store.js";
import { type FirewallSettings, firewallSettings } from "./config.js";
import { FirewallAgent } from "./firewall-agent.js";
import { FirewallMetrics } from "./metrics.js";
import { requireNetAdmin } from "./nft/capabilities.js";
import { NftRunner } from "./nft/nft-runner.js";
import { Reconciler } from "./reconciler.js";
import { createFirewallAdmin } from "./server.js";

await serviceMain({
  name: "nftables",
  section: "firewall",
  settings: firewallSettings,
  env: process.env,
  drainTimeoutMs: 5000,
  preflight: requireNetAdmin,
  async start({ config, settings, env, logger, registry, grpc, reloadConfig }) {
    const configPath = resolve(env.configPath);
    let loaded: FirewallSettings = settings;
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
    grpc.add(firewallV1.FirewallAdminService, createFirewallAdmin({ agent, nft, metrics }));

    // NATS is for bans only: the config's rules hold without it, and bans join once it is reachable.
    let nc: NatsConnection | undefined;
    let stopping = false;
    void (async () => {
      nc = await connectNats({
        servers: config.nats.servers,
        ...natsAuth(config.nats, "nftables"),
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
      let next: FirewallSettings;
      try {
        next = (await reloadConfig()).settings;
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

    return {
      ready: () => agent.current !== undefined,
      log: { config: configPath },
      reload,
      async stop() {
        stopping = true;
        watcher.close();
        clearTimeout(debounce);
        reconciler.stop();
        agent.stop();
        await nc?.close();
      },
    };
  },
});
