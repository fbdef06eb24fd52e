import { EventEmitter, once } from "node:events";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import {
  type AttachedMessage,
  type ConnMessage,
  closeFd,
  decodeMessage,
  encodeMessage,
  HandoffChannel,
  type MoveMessage,
} from "@switchyard/handoff";
import { edgeV1 } from "@switchyard/proto";
import type { Logger } from "@switchyard/runtime";
import { createGrpcClient, unary } from "@switchyard/runtime";
import { adoptConnection } from "./adopt-connection.js";
import { EdgeWorkerError } from "./errors.js";
import { ReportBatcher } from "./report-batcher.js";
import { type UdpHandle, UdpHoldings, type UdpShare, type UdpShareInfo } from "./udp-holdings.js";

export type { UdpHandle, UdpShare, UdpShareInfo };

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
  /**
   * The pool's shared UDP sockets opened at an attach or reload (sockets already served are kept and
   * not given again). They outlive the edge: the worker keeps answering while it is away.
   */
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
  /**
   * How long leave() keeps reading the handoff channel after deregister for the connections the edge
   * sent before it took the worker out (it closes the channel then: EOF ends the wait). Default 1000.
   */
  leaveDrainMs?: number;
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
  /** Channels of an edge that handed over (upgrade): they may still bring connections until it closes them. */
  private readonly retiring = new Set<HandoffChannel>();
  private readonly reports = new Map<HandoffChannel, ReportBatcher>();
  private readonly udp: UdpHoldings;
  /** Attached messages are applied one after the other (each awaits fstat). */
  private udpUpdates: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly client: InstanceType<typeof edgeV1.EdgeControlClient>;
  private failures = 0;
  /** The leave() in progress (or done): a second call waits for the same one. */
  private leaving: Promise<void> | undefined;
  /** stop() was called: leave() waits for nothing more. */
  private stopping = false;
  /** Ends leave()'s wait for the edge to close the channel (stop() during leave). */
  private endLeaveWait: (() => void) | undefined;
  workerId = "";
  active = 0;

  constructor(private readonly options: EdgeWorkerOptions) {
    super();
    this.client = createGrpcClient(edgeV1.EdgeControlClient, options.edge, options.token);
    this.udp = new UdpHoldings({ adoptUdp: options.adoptUdp });
  }

  /** Shared UDP sockets served now (they stay while the edge is away). */
  get udpSockets(): number {
    return this.udp.size;
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

  /**
   * Leaves the pool: the edge sends nothing more; open connections go on. After a successful
   * deregister it keeps reading the channel until the edge closes it (at most `leaveDrainMs`), so the
   * connections the edge handed over before it took us out are adopted, not dropped unread.
   */
  leave(): Promise<void> {
    if (this.leaving) return this.leaving;
    if (this.state === "stopped" || this.state === "left") return Promise.resolve();
    this.leaving = this.leavePool();
    return this.leaving;
  }

  private async leavePool(): Promise<void> {
    const wasAttached = this.state === "attached";
    this.state = "left";
    this.clearTimers();
    if (wasAttached && this.workerId) {
      const deregistered = await unary(
        this.client,
        "deregister",
        { workerId: this.workerId },
        { deadlineMs: 2000 },
      ).then(
        () => true,
        (err) => {
          this.options.logger.warn({ err }, "deregister failed; the edge drops us when the channel closes");
          return false;
        },
      );
      // The edge closes the channel once it took us out, after everything it sent before: read to EOF.
      const channel = this.channel;
      if (deregistered && channel && !this.stopping) await this.untilClosed(channel);
    }
    this.detach();
    for (const channel of [...this.retiring]) this.closeChannel(channel);
    // Leaving the pool: the UDP sockets go too (the edge keeps its own copy of each).
    await this.udpUpdates;
    this.udp.closeAll();
  }

  /** Resolves when `channel` has closed (EOF read), after `leaveDrainMs`, or when stop() ends the wait. */
  private untilClosed(channel: HandoffChannel): Promise<void> {
    if (channel.closed) return Promise.resolve();
    const limitMs = this.options.leaveDrainMs ?? 1000;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        channel.off("close", done);
        this.endLeaveWait = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        this.options.logger.warn(
          { workerId: this.workerId, leaveDrainMs: limitMs },
          "edge did not close the handoff channel after deregister; closing it now",
        );
        done();
      }, limitMs);
      channel.on("close", done);
      this.endLeaveWait = done;
    });
  }

  /** Leaves (see leave()) and closes the gRPC client. During a leave, stops waiting for the edge. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.endLeaveWait?.();
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
      this.workerId = reg.workerId;
      this.useChannel(channel, reg.token);
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

  /** Makes `channel` the one new connections come on and sends attach (with the UDP sockets held). */
  private useChannel(channel: HandoffChannel, token: string): void {
    this.channel = channel;
    this.reports.set(
      channel,
      new ReportBatcher(
        () => channel,
        (err) => this.options.logger.error({ err }, "cannot send a report to the edge"),
      ),
    );
    channel.on("message", (data: Buffer, fds: number[]) => this.onMessage(channel, data, fds));
    channel.once("close", () => this.onChannelClosed(channel));
    channel.on("error", (err: Error) => this.options.logger.warn({ err }, "handoff channel error"));
    const held = this.udp.presented();
    channel.send(
      encodeMessage({
        type: "attach",
        workerId: this.workerId,
        token,
        ...(held.udp.length > 0 ? { udp: held.udp } : {}),
      }),
      held.fds,
    );
  }

  /**
   * The edge is handing over to its successor: attach to the new edge with the token the old one
   * vouched for, and keep the old channel (it may still bring connections) until the old edge closes it.
   */
  private async onMove(from: HandoffChannel, message: MoveMessage): Promise<void> {
    if (from !== this.channel || this.state === "left" || this.state === "stopped") return;
    let next: HandoffChannel;
    try {
      next = await HandoffChannel.connect(message.path);
    } catch (err) {
      this.options.logger.warn({ err }, "cannot reach the new edge; joining again when the old one leaves");
      return;
    }
    if (from !== this.channel || (this.state as State) === "left" || (this.state as State) === "stopped") {
      next.close();
      return;
    }
    this.retiring.add(from);
    this.state = "connecting";
    this.useChannel(next, message.token);
    this.options.logger.info({ workerId: this.workerId }, "moving to the new edge");
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

  private onMessage(channel: HandoffChannel, data: Buffer, fds: number[]): void {
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
        this.onConn(channel, message, payload, fds);
        return;
      case "conns": {
        // Several connections in one message: fds in order, routing bytes back to back.
        let at = 0;
        const list = Array.isArray(message.conns) ? message.conns : [];
        for (const [i, conn] of list.entries()) {
          const fd = fds[i];
          const replay = Number.isInteger(conn.replay) && conn.replay >= 0 ? conn.replay : 0;
          const { replay: _r, ...info } = conn;
          this.onConn(
            channel,
            { type: "conn", ...info },
            payload.subarray(at, at + replay),
            fd === undefined ? [] : [fd],
          );
          at += replay;
        }
        for (const fd of fds.slice(list.length)) closeFd(fd);
        return;
      }
      case "attached":
        // Also while leaving: its UDP sockets would only be closed again, and the state must stay "left".
        if (channel !== this.channel || this.state === "left" || this.state === "stopped") {
          for (const fd of fds) closeFd(fd);
          return;
        }
        this.onAttached(channel, message, fds);
        return;
      case "move":
        for (const fd of fds) closeFd(fd);
        void this.onMove(channel, message);
        return;
      case "drain":
        this.options.onDrainRequest?.();
        this.emit("drain");
        return;
      default:
        for (const fd of fds) closeFd(fd);
    }
  }

  private onConn(channel: HandoffChannel, info: ConnMessage, payload: Buffer, fds: number[]): void {
    const [fd, ...extra] = fds;
    for (const e of extra) closeFd(e);
    if (fd === undefined) {
      this.options.logger.error({ conn: info.id }, "conn message without a socket");
      return;
    }
    this.active++;
    // Reported to the edge that handed it over: conn ids are that edge's.
    const reports = this.reports.get(channel);
    // The id only: `info` (addresses, SNI) would otherwise live as long as the connection.
    const { id } = info;
    let reported = false;
    const ended = (bytesIn: number, bytesOut: number) => {
      if (reported) return;
      reported = true;
      this.active--;
      reports?.closedConn(id, bytesIn, bytesOut);
    };
    if (this.options.onConnectionFd) {
      this.options.onConnectionFd(fd, Buffer.from(payload), info, ended);
      return;
    }
    const socket = adoptConnection(fd, payload, ended);
    this.options.onConnection(socket, info);
  }

  private onAttached(channel: HandoffChannel, message: AttachedMessage, fds: number[]): void {
    const shares = message.udp.flatMap((share, i) => {
      const fd = fds[i];
      return fd === undefined ? [] : [{ fd, ...share }];
    });
    for (const fd of fds.slice(message.udp.length)) closeFd(fd);
    const first = this.state !== "attached";
    this.state = "attached";
    this.udpUpdates = this.udpUpdates.then(async () => {
      if (channel !== this.channel) {
        for (const s of shares) closeFd(s.fd);
        return;
      }
      const { opened, kept, adopted } = await this.udp.replace(shares);
      this.options.logger.info(
        {
          workerId: this.workerId,
          pool: this.options.pool,
          udp: this.udp.size,
          keptUdp: kept,
          adoptedUdp: adopted,
        },
        first ? "attached to the edge" : "edge sent its UDP sockets",
      );
      if (opened.length > 0) this.options.onUdpSockets?.(opened);
      if (first) this.emit("attached");
    });
  }

  private onChannelClosed(channel: HandoffChannel): void {
    if (this.retiring.delete(channel)) {
      // The old edge of an upgrade is done with us.
      this.closeChannel(channel);
      this.options.logger.info({ workerId: this.workerId }, "closed the old edge's channel");
      return;
    }
    if (channel !== this.channel) return;
    if (this.state === "left" || this.state === "stopped") return;
    this.options.logger.warn(
      { workerId: this.workerId, udp: this.udp.size },
      "edge closed the handoff channel; joining again (UDP sockets still served)",
    );
    this.detach();
    this.failures = 0;
    this.scheduleRetry();
  }

  private closeChannel(channel: HandoffChannel): void {
    this.reports.get(channel)?.flush();
    this.reports.delete(channel);
    channel.close();
  }

  /** Leaves the current edge's channel. The shared UDP sockets stay: DNS keeps being answered. */
  private detach(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const channel = this.channel;
    this.channel = undefined;
    if (channel) this.closeChannel(channel);
    if (this.state === "attached" || this.state === "connecting") this.state = "idle";
  }
}

export { EdgeWorkerError };
