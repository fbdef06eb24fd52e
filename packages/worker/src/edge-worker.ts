import dgram from "node:dgram";
import { EventEmitter, once } from "node:events";
import { isIPv6, type Socket } from "node:net";
import { hostname } from "node:os";
import {
  type AttachedMessage,
  type ConnMessage,
  closeFd,
  decodeMessage,
  encodeMessage,
  HandoffChannel,
} from "@switchyard/handoff";
import { edgeV1 } from "@switchyard/proto";
import type { Logger } from "@switchyard/runtime";
import { createGrpcClient, unary } from "@switchyard/runtime";
import { adoptConnection } from "./adopt-connection.js";
import { EdgeWorkerError } from "./errors.js";
import { ReportBatcher } from "./report-batcher.js";

export interface UdpShare {
  socket: dgram.Socket;
  route: string;
  address: string;
  port: number;
}

/** What `adoptUdp` made of a shared UDP fd: the worker closes it when the edge goes away. */
export interface UdpHandle {
  close(): void;
}

/** A shared UDP socket before it is opened: the edge's fd and where it listens. */
export interface UdpShareInfo {
  fd: number;
  route: string;
  address: string;
  port: number;
}

export interface EdgeWorkerOptions {
  /** The edge's gRPC address, host:port. */
  edge: string;
  token: string;
  role: string;
  pool: string;
  capacity?: number;
  instance?: string;
  logger: Logger;
  /** A handed-off connection; its first bytes are the ones the edge read to route. */
  onConnection: (socket: Socket, info: ConnMessage) => void;
  /**
   * Take handed-off connections as raw fds instead (a relay that never makes a JavaScript socket):
   * the callee owns `fd`, `replay` holds the bytes the edge read to route, and `ended` must run once
   * when the connection is over (it reports the close to the edge).
   */
  onConnectionFd?: (
    fd: number,
    replay: Buffer,
    info: ConnMessage,
    ended: (bytesIn: number, bytesOut: number) => void,
  ) => void;
  /** The pool's shared UDP sockets, after each attach. They are closed by the worker when the edge goes away. */
  onUdpSockets?: (shares: UdpShare[]) => void;
  /**
   * Serve a shared UDP socket directly from its fd (e.g. with recvmmsg batches) instead of a dgram
   * socket: return the handle that now owns the fd, or undefined to get a dgram socket as usual.
   */
  adoptUdp?: (share: UdpShareInfo) => UdpHandle | undefined;
  /** An operator asked the edge to drain this worker; it sends no new connections. */
  onDrainRequest?: () => void;
  retryMinMs?: number;
  retryMaxMs?: number;
}

type State = "idle" | "connecting" | "attached" | "left" | "stopped";

/**
 * A worker's membership of an edge pool: registers over gRPC, attaches to the handoff socket with the
 * one-time token, adopts connections, reports acks and closes, heartbeats, and starts over whenever
 * the edge goes away (an edge restart is routine, not an error). Established connections belong to
 * the worker and survive all of this.
 */
export class EdgeWorker extends EventEmitter {
  private state: State = "idle";
  private channel: HandoffChannel | undefined;
  private udp: UdpShare[] = [];
  private adopted: UdpHandle[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly reports = new ReportBatcher(
    () => this.channel,
    (err) => this.options.logger.error({ err }, "cannot send a report to the edge"),
  );
  private readonly client: InstanceType<typeof edgeV1.EdgeControlClient>;
  private failures = 0;
  workerId = "";
  active = 0;

  constructor(private readonly options: EdgeWorkerOptions) {
    super();
    this.client = createGrpcClient(edgeV1.EdgeControlClient, options.edge, options.token);
  }

  get attached(): boolean {
    return this.state === "attached";
  }

  start(): void {
    if (this.state !== "idle") return;
    void this.connect();
  }

  /** Resolves once attached (again). */
  async waitAttached(): Promise<void> {
    if (this.state === "attached") return;
    await once(this, "attached");
  }

  /** Leaves the pool: the edge sends nothing more; open connections go on. */
  async leave(): Promise<void> {
    if (this.state === "stopped" || this.state === "left") return;
    const wasAttached = this.state === "attached";
    this.state = "left";
    this.clearTimers();
    if (wasAttached && this.workerId) {
      await unary(this.client, "deregister", { workerId: this.workerId }, { deadlineMs: 2000 }).catch((err) =>
        this.options.logger.warn({ err }, "deregister failed; the edge drops us when the channel closes"),
      );
    }
    this.detach();
  }

  async stop(): Promise<void> {
    await this.leave();
    this.state = "stopped";
    this.client.close();
  }

  private clearTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    this.heartbeat = undefined;
    this.retry = undefined;
  }

  private async connect(): Promise<void> {
    if (this.state === "left" || this.state === "stopped") return;
    this.state = "connecting";
    const { logger, role, pool } = this.options;
    try {
      const reg = await unary(
        this.client,
        "register",
        {
          role,
          pool,
          capacity: this.options.capacity ?? 0,
          instance: this.options.instance ?? hostname(),
          pid: process.pid,
        },
        { deadlineMs: 3000 },
      );
      const channel = await HandoffChannel.connect(reg.handoffPath);
      if ((this.state as State) !== "connecting") {
        channel.close();
        return;
      }
      this.channel = channel;
      this.workerId = reg.workerId;
      channel.on("message", (data: Buffer, fds: number[]) => this.onMessage(data, fds));
      channel.once("close", () => this.onChannelClosed());
      channel.on("error", (err: Error) => logger.warn({ err }, "handoff channel error"));
      channel.send(encodeMessage({ type: "attach", workerId: reg.workerId, token: reg.token }));
      this.heartbeat = setInterval(() => void this.beat(), Math.max(100, reg.heartbeatIntervalMs || 2000));
      this.failures = 0;
    } catch (err) {
      this.failures++;
      // Quiet while the edge is simply not up yet; loud if it keeps failing.
      const level = this.failures === 1 || this.failures % 30 === 0 ? "warn" : "debug";
      logger[level]({ err, failures: this.failures }, "cannot join the edge; retrying");
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.state === "left" || this.state === "stopped") return;
    this.state = "idle";
    const min = this.options.retryMinMs ?? 100;
    const max = this.options.retryMaxMs ?? 2000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 10)) * (0.5 + Math.random() / 2);
    this.retry = setTimeout(() => void this.connect(), delay);
  }

  private async beat(): Promise<void> {
    if (this.state !== "attached" || !this.workerId) return;
    try {
      const res = await unary(
        this.client,
        "heartbeat",
        { workerId: this.workerId, activeConnections: this.active },
        { deadlineMs: 2000 },
      );
      if (!res.known) {
        this.options.logger.info(
          { workerId: this.workerId },
          "edge no longer knows this worker; joining again",
        );
        this.detach();
        this.scheduleRetry();
      }
    } catch (err) {
      this.options.logger.debug({ err }, "heartbeat failed");
    }
  }

  private onMessage(data: Buffer, fds: number[]): void {
    let decoded: ReturnType<typeof decodeMessage>;
    try {
      decoded = decodeMessage(data);
    } catch (err) {
      for (const fd of fds) closeFd(fd);
      this.options.logger.error({ err }, "malformed message from the edge");
      return;
    }
    const { message, payload } = decoded;
    switch (message.type) {
      case "conn":
        this.onConn(message, payload, fds);
        return;
      case "attached":
        this.onAttached(message, fds);
        return;
      case "drain":
        this.options.onDrainRequest?.();
        this.emit("drain");
        return;
      default:
        for (const fd of fds) closeFd(fd);
    }
  }

  private onConn(info: ConnMessage, payload: Buffer, fds: number[]): void {
    const [fd, ...extra] = fds;
    for (const e of extra) closeFd(e);
    if (fd === undefined) {
      this.options.logger.error({ conn: info.id }, "conn message without a socket");
      return;
    }
    this.active++;
    let reported = false;
    const ended = (bytesIn: number, bytesOut: number) => {
      if (reported) return;
      reported = true;
      this.active--;
      this.reports.closedConn(info.id, bytesIn, bytesOut);
    };
    if (this.options.onConnectionFd) {
      this.options.onConnectionFd(fd, Buffer.from(payload), info, ended);
      return;
    }
    const socket = adoptConnection(fd, payload, ended);
    this.options.onConnection(socket, info);
  }

  private onAttached(message: AttachedMessage, fds: number[]): void {
    this.closeUdp();
    this.udp = message.udp.flatMap((share, i) => {
      const fd = fds[i];
      if (fd === undefined) return [];
      const handle = this.options.adoptUdp?.({ fd, ...share });
      if (handle) {
        this.adopted.push(handle);
        return [];
      }
      // Replies go to the literal address a datagram came from: no DNS lookup (and no extra tick) per send.
      const socket = dgram.createSocket({
        type: isIPv6(share.address) ? "udp6" : "udp4",
        lookup: literalLookup,
      });
      socket.bind({ fd });
      return [{ socket, ...share }];
    });
    for (const fd of fds.slice(message.udp.length)) closeFd(fd);
    this.state = "attached";
    this.options.logger.info(
      {
        workerId: this.workerId,
        pool: this.options.pool,
        udp: this.udp.length + this.adopted.length,
        adoptedUdp: this.adopted.length,
      },
      "attached to the edge",
    );
    if (this.udp.length > 0) this.options.onUdpSockets?.(this.udp);
    this.emit("attached");
  }

  private onChannelClosed(): void {
    if (this.state === "left" || this.state === "stopped") return;
    this.options.logger.warn({ workerId: this.workerId }, "edge closed the handoff channel; joining again");
    this.detach();
    this.failures = 0;
    this.scheduleRetry();
  }

  private detach(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.reports.flush();
    const channel = this.channel;
    this.channel = undefined;
    channel?.close();
    // Let go of the edge's UDP sockets at once so a restarted edge can bind the port again.
    this.closeUdp();
    if (this.state === "attached") this.state = "idle";
  }

  private closeUdp(): void {
    for (const share of this.udp) {
      try {
        share.socket.close();
      } catch {
        // already closed
      }
    }
    this.udp = [];
    for (const handle of this.adopted) handle.close();
    this.adopted = [];
  }
}

export { EdgeWorkerError };

/**
 * dgram's `lookup` for the addresses replies go to, which are the IP literals datagrams came from:
 * answers at once, synchronously (a name would fail in the send itself).
 */
function literalLookup(
  address: string,
  _family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(":") ? 6 : 4);
}
