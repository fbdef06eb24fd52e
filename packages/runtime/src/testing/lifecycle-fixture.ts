// A child process for lifecycle.test.ts: `node lifecycle-fixture.js <mode> [drainTimeoutMs]`.

import { type RunningService, runService } from "../lifecycle.js";
import { createLogger } from "../logger.js";

const mode = process.argv[2] ?? "ok";
const drainTimeoutMs = Number(process.argv[3] ?? 10_000);
const logger = createLogger("fixture");

async function start(): Promise<RunningService> {
  if (mode === "start-fails") throw new Error("port 53 is taken");
  const keepAlive = setInterval(() => {}, 1 << 30);
  if (mode === "unhandled") {
    setImmediate(() => {
      void Promise.reject(new Error("nobody caught me"));
      void Promise.reject(new Error("nor me"));
    });
  }
  return {
    reload: async () => {
      if (mode === "reload-fails") throw new Error("routes[0].match.ports[0]: 70000 is not a port");
      logger.info("fixture reloaded");
    },
    drain: (deadlineMs) => {
      logger.info({ deadlineMs }, "fixture draining");
      return mode === "drain-hangs" ? new Promise<void>(() => {}) : Promise.resolve();
    },
    stop: async () => {
      clearInterval(keepAlive);
      logger.info("fixture stopped");
    },
  };
}

void runService({ name: "fixture", logger, start, drainTimeoutMs });
