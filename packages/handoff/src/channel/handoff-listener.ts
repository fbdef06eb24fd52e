import { EventEmitter } from "node:events";
import { HandoffError } from "../errors.js";
import { closeFd } from "../fds.js";
import { constants, type NativeEndpoint, native, type SystemError } from "../native.js";
import { HandoffChannel } from "./handoff-channel.js";
import { type HandoffListenerOptions, type ListenerSettings, parseListenerOptions } from "./options.js";

const BACKLOG = 512;
/** accept4() failures that mean "out of fds or memory": pause accepting instead of spinning. */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
const RESOURCE_PAUSE_MS = 100;

/**
 * A handoff socket that workers connect to. Events: 'channel' (HandoffChannel) for every
 * accepted connection, 'error' (HandoffError). Accepted channels get the listener's maxQueued.
 */
export class HandoffListener extends EventEmitter {
  readonly path: string;
  readonly #settings: ListenerSettings;
  readonly #endpoint: NativeEndpoint;
  readonly #dev: number;
  readonly #ino: number;
  #closed = false;
  #refed = true;
  #pauseTimer: NodeJS.Timeout | undefined;

  /**
   * Binds a SOCK_SEQPACKET socket at `path` with file mode `mode` (default 0o660) and listens.
   * A socket file already at `path` is replaced if nobody listens on it any more; a live
   * listener's path, or a file that is not a socket, fails with EADDRINUSE.
   */
  static listen(path: string, options?: HandoffListenerOptions): HandoffListener {
    return new HandoffListener(path, parseListenerOptions(options));
  }

  private constructor(path: string, settings: ListenerSettings) {
    super();
    this.path = path;
    this.#settings = settings;
    let bound: { fd: number; dev: number; ino: number };
    try {
      bound = native.listen(path, settings.mode, BACKLOG);
    } catch (cause) {
      const code = (cause as Partial<SystemError>).code ?? "EINVAL";
      throw new HandoffError(`cannot listen on handoff socket ${path}: ${code}`, { cause });
    }
    try {
      this.#endpoint = new native.Endpoint(bound.fd, constants.KIND_LISTENER, this.#onEvent);
    } catch (cause) {
      native.unlinkSocket(path, bound.dev, bound.ino);
      closeFd(bound.fd);
      throw new HandoffError(`cannot watch handoff socket ${path}`, { cause });
    }
    this.#dev = bound.dev;
    this.#ino = bound.ino;
  }

  /** Stops accepting and removes the socket file. Accepted channels stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pauseTimer);
    this.#endpoint.close();
    native.unlinkSocket(this.path, this.#dev, this.#ino);
  }

  /** Lets the process exit while this listener is open. */
  unref(): this {
    this.#refed = false;
    this.#endpoint.unref();
    this.#pauseTimer?.unref();
    return this;
  }

  /** Keeps the process alive while this listener is open (the default). */
  ref(): this {
    this.#refed = true;
    this.#endpoint.ref();
    this.#pauseTimer?.ref();
    return this;
  }

  readonly #onEvent = (event: number, a?: unknown): void => {
    if (event === constants.EV_ACCEPT) this.#accepted(a as number);
    else if (event === constants.EV_ERROR) this.#failed(a as SystemError);
  };

  #accepted(fd: number): void {
    let channel: HandoffChannel;
    try {
      channel = new HandoffChannel(fd, this.#settings);
    } catch (cause) {
      closeFd(fd);
      this.emit("error", new HandoffError("cannot set up an accepted handoff channel", { cause }));
      return;
    }
    if (this.listenerCount("channel") === 0)
      channel.close(); // nobody would ever close it
    else this.emit("channel", channel);
  }

  #failed(cause: SystemError): void {
    if (RESOURCE_ERRORS.has(cause.code) && !this.#closed) {
      this.#endpoint.setEvents(false, false);
      this.#pauseTimer = setTimeout(() => {
        this.#pauseTimer = undefined;
        if (!this.#closed) this.#endpoint.setEvents(true, false);
      }, RESOURCE_PAUSE_MS);
      if (!this.#refed) this.#pauseTimer.unref();
    }
    this.emit(
      "error",
      new HandoffError(`handoff listener failed: ${cause.syscall} ${cause.code}`, { cause }),
    );
  }
}
