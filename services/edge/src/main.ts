#!/usr/bin/env node
/** The edge process: owns the public sockets (serviceMain reads the env, config and signals). */
import { rename, writeFile } from "node:fs/promises";
import { closeFd } from "@switchyard/handoff";
import { edgeV1 } from "@switchyard/proto";
import { serviceMain } from "@switchyard/runtime";
import { edgeSettings } from "./config.js";
import { Edge } from "./edge.js";
import { createEdgeAdmin, createEdgeControl } from "./server.js";
import { EdgeUpgrade, UPGRADE_SOCKET_ENV } from "./upgrade/edge-upgrade.js";
import { storeSockets } from "./upgrade/fd-store.js";
import { listenFds } from "./upgrade/socket-activation.js";
import { Successor } from "./upgrade/successor.js";
import { SystemdNotifier } from "./upgrade/systemd-notify.js";

/** After a restart with inherited listeners, how long the edge waits for workers before accepting anyway. */
const ACTIVATION_WORKER_WAIT_MS = 5000;

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
    // SWITCHYARD_HANDOFF_BATCH=1: several connections per message (bench/README.md: no gain measured yet, so off).
    const batchHandoffs = process.env.SWITCHYARD_HANDOFF_BATCH === "1";
    // NOTIFY_SOCKET: started by systemd (Type=notify): READY/RELOADING/STOPPING/MAINPID and the fd store.
    const notifySocket = process.env.NOTIFY_SOCKET;
    const systemd = notifySocket ? new SystemdNotifier(notifySocket) : undefined;
    const notify = (what: string, send: (n: SystemdNotifier) => unknown) => {
      if (!systemd) return;
      try {
        const result = send(systemd);
        logger.info({ what, result }, "systemd notified");
      } catch (err) {
        logger.warn({ err, what }, "systemd notify failed");
      }
    };
    // Set once a successor took the sockets: this edge's exit is not the service stopping.
    let handedOver = false;
    const edge = new Edge(settings, { logger, metrics: registry, batchHandoffs });
    if (successor) {
      const own = edge.routeDigest();
      if (own.digest !== successor.routes.digest)
        logger.info({ before: successor.routes, now: own }, "edge upgrade: the route table changed with it");
      await successor.release();
      await edge.start({ inherited: successor.sockets, workers: successor.workers, paused: true });
    }
    // Socket activation: systemd, or scripts/supervise.mjs's fd store after a crash. Connections wait
    // in the listening sockets' backlog until the workers are back.
    const activation = successor ? undefined : listenFds(process.env, process.pid);
    for (const { fd, name } of activation?.unnamed ?? []) {
      logger.warn({ fd, name }, "LISTEN_FDS: an fd without a tcp_ADDR_PORT or udp_ADDR_PORT name; closed");
      closeFd(fd);
    }
    if (activation) {
      logger.info(
        { tcp: activation.sockets.tcp.length, udp: activation.sockets.udp.length },
        "listening sockets passed in",
      );
      await edge.start({ inherited: activation.sockets, paused: true });
    } else if (!successor) {
      await edge.start();
    }

    // The successor takes its sockets over the upgrade socket, not from this process's activation.
    const { [UPGRADE_SOCKET_ENV]: _ours, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, ...env } = process.env;
    const upgrade = new EdgeUpgrade({
      edge,
      logger,
      execPath: process.execPath,
      argv: [...process.execArgv, ...process.argv.slice(1)],
      env,
      releaseListeners,
      // Stop as on SIGTERM: stop accepting, finish what is being routed, close the channels, exit 0.
      handedOver: () => {
        handedOver = true;
        process.kill(process.pid, "SIGTERM");
      },
      failedAfterRelease: (err) => {
        logger.fatal({ err }, "edge upgrade failed after the listeners were released; exiting");
        process.exit(1);
      },
    });
    process.on("SIGUSR2", () => {
      upgrade.start().catch((err) => logger.error({ err }, "SIGUSR2: edge upgrade failed"));
    });

    const reload = async () => {
      notify("reloading", (n) => n.reloading());
      try {
        const next = await reloadConfig();
        await edge.reload(next.settings);
        logger.info({ routes: edge.routes.length }, "config reloaded");
      } finally {
        // READY=1 ends the reload whether it applied or kept the running config.
        notify("ready", (n) => n.ready(process.pid));
      }
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
        // Listening, workers can attach. After an upgrade this is the successor: MAINPID= moves the
        // service to it before takeOver() lets the old edge exit.
        notify("ready", (n) => n.ready(process.pid));
        await successor?.takeOver(edge, logger);
        if (activation) {
          await edge.waitForWorkers(ACTIVATION_WORKER_WAIT_MS);
          edge.resume();
        }
        const store = process.env.SWITCHYARD_FDSTORE;
        if (store)
          await storeSockets(store, edge.handoverSockets()).then(
            (count) => logger.info({ count }, "listening sockets given to the supervisor's fd store"),
            (err: Error) => logger.warn({ err }, "cannot give the listening sockets to the fd store"),
          );
        notify("fd store", (n) => n.storeSockets(edge.handoverSockets()));
      },
      async drain(deadlineMs) {
        if (!handedOver) notify("stopping", (n) => n.stopping());
        await edge.drain(deadlineMs);
      },
      async stop() {
        await edge.stop();
      },
    };
  },
});
