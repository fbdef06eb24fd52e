import { userInfo } from "node:os";
import {
  closeFd,
  decodeMessage,
  encodeMessage,
  type HandoffChannel,
  HandoffListener,
} from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import type { HandoffDispatcher } from "./handoff-dispatcher.js";
import type { WorkerRecord, WorkerRegistry } from "./worker-registry.js";

export interface UdpShareSource {
  /** The bound UDP sockets a pool's workers read, with their fds. */
  udpFor(pool: string): Array<{ route: string; address: string; port: number; fd: number }>;
}

export interface HandoffServerOptions {
  path: string;
  mode: number;
  allowedUids: number[];
  /** Handoffs waiting for one worker's socket to drain; past this the next worker gets the connection. */
  maxQueuedPerWorker: number;
  registry: WorkerRegistry;
  dispatcher: HandoffDispatcher;
  udp: UdpShareSource;
  logger: Logger;
  attachTimeoutMs?: number;
}

/**
 * The Unix socket workers attach to. Three locks on the door: the socket file's mode, the peer's
 * uid from SO_PEERCRED, and the one-time token the worker got from gRPC Register.
 */
export class HandoffServer {
  private listener: HandoffListener | undefined;
  private readonly allowedUids: Set<number>;

  constructor(private readonly options: HandoffServerOptions) {
    this.allowedUids = new Set([0, userInfo().uid, ...options.allowedUids]);
  }

  get path(): string {
    return this.options.path;
  }

  start(): void {
    this.listener = HandoffListener.listen(this.options.path, {
      mode: this.options.mode,
      maxQueued: this.options.maxQueuedPerWorker,
    });
    this.listener.on("channel", (channel: HandoffChannel) => this.onChannel(channel));
    this.listener.on("error", (err: Error) => this.options.logger.error({ err }, "handoff listener error"));
  }

  close(): void {
    this.listener?.close();
    this.listener = undefined;
  }

  /** Sends the pool's current UDP sockets to an attached worker (at attach and after a reload). */
  sendUdp(worker: WorkerRecord): void {
    if (!worker.channel) return;
    const shares = this.options.udp.udpFor(worker.pool);
    const frame = encodeMessage({
      type: "attached",
      workerId: worker.id,
      udp: shares.map(({ route, address, port }) => ({ route, address, port })),
    });
    try {
      worker.channel.send(
        frame,
        shares.map((s) => s.fd),
        () => {},
      );
    } catch (err) {
      this.options.logger.warn({ err, worker: worker.id }, "cannot send UDP sockets to worker");
    }
  }

  requestDrain(worker: WorkerRecord): void {
    try {
      worker.channel?.send(encodeMessage({ type: "drain" }), [], () => {});
    } catch {
      // A worker whose channel is gone is being removed anyway.
    }
  }

  private onChannel(channel: HandoffChannel): void {
    const { logger, registry, dispatcher } = this.options;
    const { uid, pid } = channel.peer;
    if (!this.allowedUids.has(uid)) {
      logger.warn({ uid, pid }, "refused a handoff peer: its uid may not attach");
      channel.close();
      return;
    }
    let worker: WorkerRecord | undefined;
    const attachTimer = setTimeout(() => {
      logger.warn({ uid, pid }, "handoff peer sent no attach message in time");
      channel.close();
    }, this.options.attachTimeoutMs ?? 5000);

    channel.on("message", (data: Buffer, fds: number[]) => {
      for (const fd of fds) closeFd(fd); // workers never send fds to the edge
      let message: ReturnType<typeof decodeMessage>["message"];
      try {
        message = decodeMessage(data).message;
      } catch (err) {
        logger.warn({ err, worker: worker?.id, pid }, "malformed message on the handoff socket");
        if (!worker) channel.close();
        return;
      }
      if (!worker) {
        clearTimeout(attachTimer);
        if (message.type !== "attach") {
          logger.warn({ pid, type: message.type }, "handoff peer did not start with attach");
          channel.close();
          return;
        }
        worker = registry.attach(message.workerId, message.token, channel);
        if (!worker) {
          logger.warn(
            { pid, workerId: message.workerId },
            "refused a handoff peer: unknown worker or bad token",
          );
          channel.close();
          return;
        }
        worker.pid = pid || worker.pid;
        logger.info({ worker: worker.id, pool: worker.pool, pid }, "worker attached");
        this.sendUdp(worker);
        return;
      }
      if (message.type === "report") dispatcher.onReport(worker, message);
    });

    channel.once("close", () => {
      clearTimeout(attachTimer);
      if (!worker) return;
      registry.remove(worker.id);
      dispatcher.workerGone(worker);
      logger.info({ worker: worker.id, pool: worker.pool }, "worker detached");
    });
    channel.on("error", (err: Error) => logger.warn({ err, worker: worker?.id }, "handoff channel error"));
  }
}
