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
  /** UDP sockets a worker kept from a previous edge: adopted for ports this edge could not bind; returns how many. */
  adopt(pool: string, presented: Array<{ fd: number; address: string; port: number }>): number;
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

  /**
   * A worker attached showing the UDP sockets it kept serving while no edge was there: ports this
   * edge could not bind are served by those sockets from now on, and the whole pool gets them.
   */
  private onKeptUdp(
    worker: WorkerRecord,
    udp: Array<{ address: string; port: number }>,
    fds: number[],
  ): void {
    const presented = udp.flatMap((u, i) => {
      const fd = fds[i];
      return fd === undefined || typeof u?.address !== "string" || !Number.isInteger(u?.port)
        ? []
        : [{ fd, address: u.address, port: u.port }];
    });
    const used = new Set(presented.map((p) => p.fd));
    for (const fd of fds) if (!used.has(fd)) closeFd(fd);
    const adopted = presented.length > 0 ? this.options.udp.adopt(worker.pool, presented) : 0;
    if (adopted === 0) {
      this.sendUdp(worker);
      return;
    }
    for (const w of this.options.registry.list(worker.pool)) this.sendUdp(w);
  }

  /** Sends every attached worker of `pool` its current UDP sockets (a port got bound or adopted later). */
  sendUdpToPool(pool: string): void {
    for (const w of this.options.registry.list(pool)) this.sendUdp(w);
  }

  /**
   * Upgrade: tells a worker to attach to the new edge's handoff socket with `token`. Its channel
   * here stays open (connections still routed here go over it) until this edge closes it.
   */
  requestMove(worker: WorkerRecord, path: string, token: string): boolean {
    try {
      worker.channel?.send(encodeMessage({ type: "move", path, token }), [], () => {});
      return worker.channel !== null;
    } catch {
      return false;
    }
  }

  /** A worker attached: the workers of its pool waiting for a successor drain now. */
  private drainReplaced(successor: WorkerRecord): void {
    for (const old of this.options.registry.replaced(successor.pool, successor)) {
      this.options.registry.drain(old.id);
      this.requestDrain(old);
      this.options.logger.info(
        { worker: old.id, successor: successor.id },
        "successor attached: draining the replaced worker",
      );
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
      let message: ReturnType<typeof decodeMessage>["message"];
      try {
        message = decodeMessage(data).message;
      } catch (err) {
        for (const fd of fds) closeFd(fd);
        logger.warn({ err, worker: worker?.id, pid }, "malformed message on the handoff socket");
        if (!worker) channel.close();
        return;
      }
      if (!worker) {
        clearTimeout(attachTimer);
        if (message.type !== "attach") {
          for (const fd of fds) closeFd(fd);
          logger.warn({ pid, type: message.type }, "handoff peer did not start with attach");
          channel.close();
          return;
        }
        worker = registry.attach(message.workerId, message.token, channel);
        if (!worker) {
          for (const fd of fds) closeFd(fd);
          logger.warn(
            { pid, workerId: message.workerId },
            "refused a handoff peer: unknown worker or bad token",
          );
          channel.close();
          return;
        }
        worker.pid = pid || worker.pid;
        logger.info({ worker: worker.id, pool: worker.pool, pid }, "worker attached");
        if (worker.state === "ready") this.drainReplaced(worker);
        this.onKeptUdp(worker, message.udp ?? [], fds);
        if (worker.state === "ready") dispatcher.wake(worker.pool);
        return;
      }
      for (const fd of fds) closeFd(fd); // only attach may carry fds
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
