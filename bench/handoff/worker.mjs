/**
 * The backend as a Switchyard worker: joins pool "bench" of the edge and serves every handed-off
 * connection with the same code as direct.mjs. Env: SWITCHYARD_EDGE (host:port of the edge's gRPC),
 * SWITCHYARD_ADMIN_TOKEN_FILE. Prints one JSON line once attached.
 */
import { createLogger, readToken } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";
import { serve } from "./backend.mjs";

// Not a turbo task: these come from bench.mjs, which starts this process.
const env = process.env;

const logger = createLogger("bench-worker", { level: env.SWITCHYARD_LOG_LEVEL ?? "warn" });
const token = await readToken(env.SWITCHYARD_ADMIN_TOKEN_FILE);
const worker = new EdgeWorker({
  edge: env.SWITCHYARD_EDGE,
  token,
  role: "bench",
  pool: "bench",
  instance: `bench-${process.pid}`,
  logger,
  onConnection: (socket) => serve(socket),
});
worker.once("attached", () =>
  process.stdout.write(`${JSON.stringify({ event: "attached", pid: process.pid })}\n`),
);
worker.start();
const stop = () => {
  setTimeout(() => process.exit(0), 1000).unref();
  worker.stop().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
