import { EventEmitter } from "node:events";
import { constants as osConstants } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import {
  HandoffClosedError,
  HandoffConnectError,
  HandoffError,
  HandoffProtocolError,
  HandoffQueueFullError,
} from "../errors.js";
import { closeFd } from "../fds.js";
import { constants, type NativeEndpoint, native, type SystemError } from "../native.js";
import { checkMessage } from "./message-limits.js";
import { type ChannelSettings, type HandoffChannelOptions, parseChannelOptions } from "./options.js";

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

type QueuedDone = (err: Error | null) => void;

interface QueuedSend {
  data: Uint8Array;
  fds: readonly number[] | undefined;
  done: QueuedDone | undefined;
}

const { EAGAIN, EPIPE, ECONNRESET, ENOTCONN } = osConstants.errno;
/** A Unix connect() fails with EAGAIN while the listener's backlog is full: retry a little. */
const CONNECT_ATTEMPTS = 20;
const CONNECT_RETRY_MS = 25;

/**
 * One end of a connected handoff socket (AF_UNIX SOCK_SEQPACKET): whole messages, each with
 * up to 64 KiB of data and up to 16 fds. Events: 'message' (data, fds), 'close', 'error'.
 */
export class HandoffChannel extends EventEmitter {
  /** SO_PEERCRED of the other end, read once when the channel was set up. */
  readonly peer: PeerCredentials;
  readonly maxQueued: number;
  readonly #endpoint: NativeEndpoint;
  #queue: QueuedSend[] = [];
  #closed = false;
  /** A send found the peer gone: nothing more is sent, but what it sent before is still read, up to its EOF. */
  #peerGone = false;

  /** Connects to a HandoffListener. Rejects with HandoffConnectError if nobody listens. */
  static async connect(path: string, options?: HandoffChannelOptions): Promise<HandoffChannel> {
    const settings = parseChannelOptions(options);
    for (let attempt = 1; ; attempt++) {
      let result: number;
      try {
        result = native.connect(path);
      } catch (cause) {
        throw new HandoffConnectError(path, (cause as Partial<SystemError>).code ?? "EINVAL", { cause });
      }
      if (result >= 0) return HandoffChannel.#adopt(result, settings);
      if (result === -EAGAIN && attempt < CONNECT_ATTEMPTS) {
        await delay(CONNECT_RETRY_MS);
        continue;
      }
      const cause = native.errnoError(result, "connect");
      throw new HandoffConnectError(path, cause.code, { cause });
    }
  }

  static #adopt(fd: number, settings: ChannelSettings): HandoffChannel {
    try {
      return new HandoffChannel(fd, settings);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /**
   * Wraps a connected SOCK_SEQPACKET fd, which the channel then owns (close() closes it).
   * If the constructor throws, the caller still owns the fd.
   */
  constructor(fd: number, options?: HandoffChannelOptions) {
    super();
    this.maxQueued = parseChannelOptions(options).maxQueued;
    // Both calls throw before the endpoint owns the fd, so a throw leaves it with the caller.
    this.peer = native.peerCredentials(fd);
    this.#endpoint = new native.Endpoint(fd, constants.KIND_CHANNEL, this.#onEvent);
  }

  /** Messages waiting for the socket to become writable. */
  get queued(): number {
    return this.#queue.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one message. Returns true when the kernel took it now: the caller may close the fds
   * right away. Returns false when it was queued (socket full): the caller keeps data and fds
   * untouched until onQueuedDone(err | null) fires. Throws HandoffClosedError when closed
   * (also when this send found the peer gone), HandoffQueueFullError at maxQueued.
   */
  send(data: Uint8Array, fds?: readonly number[], onQueuedDone?: QueuedDone): boolean {
    if (this.#closed || this.#peerGone) throw new HandoffClosedError();
    if (this.#queue.length === 0) {
      const result = this.#endpoint.send(data, fds);
      if (result === 0) return true;
      if (result !== -EAGAIN) throw this.#sendFailure(result);
    } else {
      checkMessage(data, fds); // validated now, sent later (the addon checks the direct path)
    }
    if (this.#queue.length >= this.maxQueued) throw new HandoffQueueFullError(this.maxQueued);
    this.#queue.push({ data, fds, done: onQueuedDone });
    if (this.#queue.length === 1) this.#endpoint.setEvents(true, true);
    return false;
  }

  /** Closes the socket. Queued sends complete with HandoffClosedError, then 'close' is emitted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.close();
    const pending = this.#queue;
    this.#queue = [];
    process.nextTick(() => {
      for (const item of pending) item.done?.(new HandoffClosedError());
      this.emit("close");
    });
  }

  /** Lets the process exit while this channel is open. */
  unref(): this {
    this.#endpoint.unref();
    return this;
  }

  /** Keeps the process alive while this channel is open (the default). */
  ref(): this {
    this.#endpoint.ref();
    return this;
  }

  #sendFailure(result: number): Error {
    const cause = native.errnoError(result, "sendmsg");
    if (result === -EPIPE || result === -ECONNRESET) {
      // The peer closed, but the messages it sent before (fds included) may wait unread in our
      // socket: closing now would drop them. Stop sending (queued sends fail now) and close at the
      // EOF that follows them.
      this.#stopSending();
      return new HandoffClosedError("handoff peer has closed the channel", { cause });
    }
    if (result === -ENOTCONN) {
      this.close();
      return new HandoffClosedError("handoff peer has closed the channel", { cause });
    }
    return new HandoffError(`handoff send failed: ${cause.code}`, { cause });
  }

  #stopSending(): void {
    if (this.#peerGone || this.#closed) return;
    this.#peerGone = true;
    this.#endpoint.setEvents(true, false);
    const pending = this.#queue;
    this.#queue = [];
    process.nextTick(() => {
      for (const item of pending) item.done?.(new HandoffClosedError());
    });
  }

  /** The socket became writable: send queued messages in order until it is full again. */
  #flush(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const item = this.#queue[0]!;
      let result: number;
      try {
        result = this.#endpoint.send(item.data, item.fds);
      } catch (err) {
        this.#queue.shift();
        item.done?.(err as Error);
        continue;
      }
      if (result === -EAGAIN) return;
      if (result === 0) {
        this.#queue.shift();
        item.done?.(null);
        continue;
      }
      const error = this.#sendFailure(result); // stops sending on EPIPE: the item fails with the rest
      if (this.#closed || this.#peerGone) return;
      this.#queue.shift();
      item.done?.(error);
    }
    if (!this.#closed) this.#endpoint.setEvents(true, false);
  }

  readonly #onEvent = (event: number, a?: unknown, b?: unknown, c?: unknown): void => {
    switch (event) {
      case constants.EV_MESSAGE:
        this.#deliver(a as Buffer, (b as number[] | undefined) ?? []);
        return;
      case constants.EV_WRITABLE:
        this.#flush();
        return;
      case constants.EV_EOF:
        this.close();
        return;
      case constants.EV_PROTOCOL:
        this.emit("error", new HandoffProtocolError(a as string, b as number, c as number));
        return;
      case constants.EV_ERROR: {
        const cause = a as SystemError;
        this.close();
        this.emit(
          "error",
          new HandoffError(`handoff channel failed: ${cause.syscall} ${cause.code}`, { cause }),
        );
        return;
      }
    }
  };

  #deliver(data: Buffer, fds: number[]): void {
    if (this.listenerCount("message") === 0) {
      for (const fd of fds) closeFd(fd); // nobody to own them
      return;
    }
    this.emit("message", data, fds);
  }
}
