#!/usr/bin/env node
/**
 * The console process: serves the page and its API on `edge.console` (loopback by default) and
 * calls the admin APIs with the same client and settings as yardctl.
 */
import { fileURLToPath } from "node:url";
import { edgeV1 } from "@switchyard/proto";
import { createLogger } from "@switchyard/runtime";
import { AdminConnections, resolveSettings } from "@switchyard/yardctl";
import { consoleAddress } from "./listen-address.js";
import { startConsoleServer } from "./server/console-server.js";
import { StatsHistory } from "./server/stats-history.js";

const logger = createLogger("console", { level: process.env.SWITCHYARD_LOG_LEVEL || "info" });
const webDir = fileURLToPath(new URL("./web/", import.meta.url));

try {
  const settings = await resolveSettings({ options: {} });
  const { host, port } = await consoleAddress(process.env, process.cwd());
  const admin = new AdminConnections(async () => settings);
  const history = new StatsHistory({
    read: () => admin.call("edge", edgeV1.EdgeAdminClient, "getStats", {}),
    failed: (err) => logger.debug({ err }, "edge stats for the chart: read failed"),
  });
  history.start();
  const server = await startConsoleServer({
    host,
    port,
    tokenFile: settings.tokenFile,
    admin,
    webDir,
    logger,
    history,
  });
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}/console/`;
  logger.info({ url, port: server.port, admin: settings.addresses }, "console started");
  const stop = (signal: string) => {
    logger.info({ signal }, "console stopping");
    history.stop();
    admin.close();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
} catch (error) {
  logger.fatal({ err: error }, `console cannot start: ${(error as Error).message}`);
  process.exit(1);
}
