/**
 * The upgrade socket between an edge (old) and its successor (new): one SEQPACKET message per frame,
 * a JSON object, with fds where a frame says so. In order:
 *   old -> new  sockets (several, at most MAX_FDS fds each: listening TCP then bound UDP sockets)
 *   old -> new  state (route table digest, worker registry with one fresh attach token per worker)
 *   new -> old  received          old's `yardctl edge upgrade` answers here
 *   new -> old  release           old closes its handoff socket, gRPC and metrics listeners
 *   old -> new  released          new binds them
 *   new -> old  ready             old tells every worker to move (attach to new with its token)
 *   new -> old  accepting         new accepts (its workers attached); old stops accepting,
 *                                 finishes the connections it is routing, closes its channels, exits
 */
import { closeFd, type HandoffChannel } from "@switchyard/handoff";
import { UpgradeError } from "../errors.js";

export interface HandedOverWorker {
  id: string;
  role: string;
  pool: string;
  instance: string;
  pid: number;
  capacity: number;
  drainRequested: boolean;
  /** One-time attach token for the new edge, also sent to the worker in its move message. */
  token: string;
}

export type UpgradeFrame =
  | {
      type: "sockets";
      tcp: Array<{ address: string; port: number; family: 4 | 6 }>;
      udp: Array<{ address: string; port: number }>;
    }
  | { type: "state"; routes: { count: number; digest: string }; workers: HandedOverWorker[] }
  | { type: "received"; pid: number }
  | { type: "release" }
  | { type: "released" }
  | { type: "ready" }
  | { type: "accepting" };

const TYPES = new Set(["sockets", "state", "received", "release", "released", "ready", "accepting"]);

export function encodeFrame(frame: UpgradeFrame): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

export function decodeFrame(data: Buffer): UpgradeFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw new UpgradeError("upgrade frame is not JSON", { cause: err });
  }
  const type = (frame as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !TYPES.has(type)) {
    throw new UpgradeError(`unknown upgrade frame ${JSON.stringify(type)}`);
  }
  return frame as UpgradeFrame;
}

type Received = { frame: UpgradeFrame; fds: number[] };

/**
 * The frames of an upgrade channel, awaited one at a time: `next(type)` resolves with the next
 * frame if it has that type, and rejects on another type, on close, or at the deadline.
 */
export class UpgradeChannel {
  private readonly queue: Received[] = [];
  private waiter: ((r: Received | Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(readonly channel: HandoffChannel) {
    channel.on("message", (data: Buffer, fds: number[]) => {
      let frame: UpgradeFrame;
      try {
        frame = decodeFrame(data);
      } catch (err) {
        for (const fd of fds) closeFd(fd);
        this.fail(err as Error);
        return;
      }
      this.push({ frame, fds });
    });
    channel.once("close", () => this.fail(new UpgradeError("the other edge closed the upgrade socket")));
    channel.on("error", (err: Error) => this.fail(new UpgradeError("upgrade socket error", { cause: err })));
  }

  send(frame: UpgradeFrame, fds: number[] = []): void {
    this.channel.send(encodeFrame(frame), fds);
  }

  async next<T extends UpgradeFrame["type"]>(
    type: T,
    timeoutMs: number,
  ): Promise<{ frame: Extract<UpgradeFrame, { type: T }>; fds: number[] }> {
    const got = await this.nextAny(timeoutMs, type);
    if (got.frame.type !== type) {
      for (const fd of got.fds) closeFd(fd);
      throw new UpgradeError(`expected "${type}" from the other edge, got "${got.frame.type}"`);
    }
    return got as { frame: Extract<UpgradeFrame, { type: T }>; fds: number[] };
  }

  /** The next frame whatever its type; rejects on close or at the deadline. */
  async nextAny(timeoutMs: number, what = "a frame"): Promise<Received> {
    const got = await new Promise<Received | Error>((resolve) => {
      const queued = this.queue.shift();
      if (queued) return resolve(queued);
      if (this.failure) return resolve(this.failure);
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(new UpgradeError(`no "${what}" from the other edge within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(r);
      };
    });
    if (got instanceof Error) throw got;
    return got;
  }

  close(): void {
    for (const r of this.queue.splice(0)) for (const fd of r.fds) closeFd(fd);
    this.channel.close();
  }

  private push(r: Received): void {
    if (this.waiter) this.waiter(r);
    else this.queue.push(r);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.waiter?.(err);
  }
}
