#!/usr/bin/env node
/**
 * A worker for tests only (until real services exist, and for edge tests after): joins a pool and,
 * for each handed-off connection, first writes one JSON line describing what it received from the
 * edge, then (mode "echo") echoes every byte, or (mode "hash") answers `sha256 <hex> <bytes>` after
 * the client half-closes. UDP datagrams on the pool's shared sockets are answered `<name>:<payload>`.
 */
import { createHash } from "node:crypto";
import { createLogger, readToken, runService } from "@switchyard/runtime";
import { EdgeWorker } from "@switchyard/worker";

const name = process.env.TEST_WORKER_NAME ?? `worker-${process.pid}`;
const pool = process.env.TEST_WORKER_POOL ?? "test";
const mode = process.env.TEST_WORKER_MODE ?? "echo";
const logger = createLogger(`test-worker:${name}`);

await runService({
  name: "test-worker",
  logger,
  drainTimeoutMs: Number(process.env.TEST_WORKER_DRAIN_MS ?? 5000),
  async start() {
    const token = await readToken(process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? ".switchyard/admin.token");
    const worker = new EdgeWorker({
      edge: process.env.SWITCHYARD_EDGE ?? "127.0.0.1:10900",
      token,
      role: "test",
      pool,
      instance: name,
      capacity: Number(process.env.TEST_WORKER_CAPACITY ?? 0),
      logger,
      onConnection(socket, info) {
        socket.on("error", () => socket.destroy());
        const header = {
          worker: name,
          id: info.id,
          route: info.route,
          remote: info.remote,
          proxied: info.proxied,
          sni: info.sni ?? null,
          host: info.host ?? null,
        };
        socket.write(`${JSON.stringify(header)}\n`);
        if (mode === "hash") {
          const hash = createHash("sha256");
          let bytes = 0;
          socket.on("data", (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          socket.on("end", () => socket.end(`sha256 ${hash.digest("hex")} ${bytes}\n`));
        } else if (mode === "silent") {
          socket.resume();
          socket.on("end", () => socket.end());
        } else {
          socket.pipe(socket);
        }
      },
      onUdpSockets(shares) {
        for (const share of shares) {
          share.socket.on("message", (msg, rinfo) => {
            share.socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
          });
        }
        logger.info({ udp: shares.map((s) => `${s.address}:${s.port}`) }, "serving udp");
      },
      onDrainRequest() {
        logger.info("drain requested");
      },
    });
    worker.start();
    return {
      async drain(deadlineMs) {
        await worker.leave();
        const until = Date.now() + deadlineMs;
        while (worker.active > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      },
      async stop() {
        await worker.stop();
      },
    };
  },
});
