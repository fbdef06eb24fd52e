#!/usr/bin/env node
/** The edge process: owns the public sockets (serviceMain reads the env, config and signals). */
import { rename, writeFile } from "node:fs/promises";
import { edgeV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { edgeSettings } from "./config.js";
import { Edge } from "./edge.js";
import { createEdgeAdmin, createEdgeControl } from "./server.js";
import { EdgeUpgrade, UPGRADE_SOCKET_ENV } from "./upgrade/edge-upgrade.js";
import { Successor } from "./upgrade/successor.js";

/**
 * SWITCHYARD_PID_FILE (set by scripts/supervise.mjs): this edge's pid, written once it serves, and by a
 * successor before the old edge exits, so a supervisor follows the new pid instead of restarting.
 */
async function writePidFile(): Promise<void> {
  const path = process.env.SWITCHYARD_PID_FILE;
  if (!path) return;
  await writeFile(`${path}.tmp`, `${process.pid}\n`);
  await rename(`${path}.tmp`, path);
}

await serviceMain({
  name: "edge",
  section: "edge",
  settings: edgeSettings,
  env: process.env,
  drainTimeoutMs: 10_000,
  async start({ settings, logger, registry, grpc, reloadConfig, releaseListeners }) {
    // Started by an edge that upgrades: take its sockets and workers instead of binding anew.
    const upgradeSocket = process.env[UPGRADE_SOCKET_ENV];
    const successor = upgradeSocket ? await Successor.connect(upgradeSocket, logger) : undefined;
    const edge = new Edge(settings, { logger, metrics: registry });
    if (successor) {
      const own = edge.routeDigest();
      if (own.digest !== successor.routes.digest)
        logger.info({ before: successor.routes, now: own }, "edge upgrade: the route table changed with it");
      await successor.release();
      await edge.start({ inherited: successor.sockets, workers: successor.workers, paused: true });
    } else {
      await edge.start();
    }

    const { [UPGRADE_SOCKET_ENV]: _ours, ...env } = process.env;
    const upgrade = new EdgeUpgrade({
      edge,
      logger,
      execPath: process.execPath,
      argv: [...process.execArgv, ...process.argv.slice(1)],
      env,
      releaseListeners,
      // Stop as on SIGTERM: stop accepting, finish what is being routed, close the channels, exit 0.
      handedOver: () => process.kill(process.pid, "SIGTERM"),
      failedAfterRelease: (err) => {
        logger.fatal({ err }, "edge upgrade failed after the listeners were released; exiting");
        process.exit(1);
      },
    });
    process.on("SIGUSR2", () => {
      upgrade.start().catch((err) => logger.error({ err }, "SIGUSR2: edge upgrade failed"));
    });

    const reload = async () => {
      const next = await reloadConfig();
      await edge.reload(next.settings);
      logger.info({ routes: edge.routes.length }, "config reloaded");
    };
    grpc.add(edgeV1.EdgeControlService, createEdgeControl({ edge, reload }));
    grpc.add(edgeV1.EdgeAdminService, createEdgeAdmin({ edge, reload, upgrade: () => upgrade.start() }));
    return {
      log: {
        handoff: settings.handoff.path,
        listeners: edge.listening(),
        upgradedFrom: successor ? true : undefined,
      },
      reload,
      async listening() {
        await writePidFile();
        await successor?.takeOver(edge, logger);
      },
      async drain(deadlineMs) {
        await edge.drain(deadlineMs);
      },
      async stop() {
        await edge.stop();
      },
    };
  },
});
