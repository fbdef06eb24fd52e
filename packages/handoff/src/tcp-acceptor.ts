import { EventEmitter } from "node:events";
import { HandoffAcceptError, HandoffError } from "./errors.js";
import { constants, type NativeEndpoint, native, type SystemError } from "./native.js";

export interface TcpAcceptorOptions {
  /** An IPv4 or IPv6 literal ("127.0.0.1", "0.0.0.0", "::1", "::"); no host names, no scope ids. */
  host: string;
  /** 0 picks a free port (read `address.port`). */
  port: number;
  /** IPV6_V6ONLY on an IPv6 socket (ignored for IPv4). Default false: "::" also takes IPv4. */
  ipv6Only?: boolean;
  /** listen() backlog, capped by the kernel at net.core.somaxconn. Default 4096. */
  backlog?: number;
}

/** Called once per accepted connection. The handler owns `fd` (non-blocking, close-on-exec,
 * TCP_NODELAY) and must close it or hand it on (sendmsg, `new net.Socket({ fd })`). */
export type AcceptHandler = (
  fd: number,
  remoteAddress: string,
  remotePort: number,
  localAddress: string,
  localPort: number,
) => void;

export interface TcpAcceptorAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

const DEFAULT_BACKLOG = 4096;
/** accept4() failures that mean "out of fds or memory": pause accepting instead of spinning. */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
const RESOURCE_PAUSE_MS = 100;
const FIELDS = constants.TCP_ACCEPT_FIELDS;

/** One EV_TCP_ACCEPT: per connection fd, remoteAddress, remotePort, localAddress, localPort. */
type AcceptBatch = Array<number | string>;

/**
 * A listening TCP socket whose connections are accepted in C, in batches of up to 128 per
 * readiness event, and handed to `onAccept` as plain fds and address strings: no net.Socket.
 * Events: 'error' (HandoffAcceptError) when accept4() fails; the acceptor stays open.
 */
export class TcpAcceptor extends EventEmitter {
  readonly address: TcpAcceptorAddress;
  readonly #endpoint: NativeEndpoint;
  readonly #onAccept: AcceptHandler;
  #closed = false;
  #paused = false;
  #refed = true;
  /** Set while accept4() keeps failing for lack of fds or memory; cleared by the next accept. */
  #starved = false;
  #failedAccepts = 0;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** The rest of a batch that arrived while the handler paused us; delivered on resume(). */
  #held: { batch: AcceptBatch; next: number } | undefined;

  /**
   * Creates, binds and listens on a TCP socket. Throws a HandoffError whose `cause.code` is the
   * errno name (EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EACCES, EINVAL for a host that is not
   * an IP literal), or a RangeError/TypeError for bad options.
   */
  static listen(options: TcpAcceptorOptions, onAccept: AcceptHandler): TcpAcceptor {
    if (typeof onAccept !== "function")
      throw new TypeError("TcpAcceptor.listen: onAccept must be a function");
    const { host, port } = options;
    const backlog = options.backlog ?? DEFAULT_BACKLOG;
    if (typeof host !== "string") throw new TypeError("TcpAcceptor option host must be a string");
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`TcpAcceptor option port must be an integer 0..65535, got ${String(port)}`);
    }
    if (!Number.isInteger(backlog) || backlog < 1 || backlog > 0x7fffffff) {
      throw new RangeError(`TcpAcceptor option backlog must be a positive integer, got ${String(backlog)}`);
    }
    let bound: { fd: number; address: string; port: number; family: 4 | 6 };
    try {
      bound = native.tcpListen(host, port, options.ipv6Only === true, backlog);
    } catch (cause) {
      const code = (cause as Partial<SystemError>).code ?? "EINVAL";
      throw new HandoffError(`cannot listen on tcp ${host} port ${port}: ${code}`, { cause });
    }
    return new TcpAcceptor(bound, onAccept);
  }

  /**
   * Accepts on a listening TCP socket this process received (an edge upgrade, systemd socket
   * activation): `address` is where it listens, as the sender said. The acceptor owns `fd` from
   * now on (closed on failure too). Starts paused when `paused` is set.
   */
  static adopt(
    fd: number,
    address: TcpAcceptorAddress,
    onAccept: AcceptHandler,
    options: { paused?: boolean } = {},
  ): TcpAcceptor {
    if (typeof onAccept !== "function") throw new TypeError("TcpAcceptor.adopt: onAccept must be a function");
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`TcpAcceptor.adopt: not an fd: ${String(fd)}`);
    const acceptor = new TcpAcceptor({ fd, ...address }, onAccept);
    if (options.paused) acceptor.pause();
    return acceptor;
  }

  readonly #fd: number;

  private constructor(bound: { fd: number } & TcpAcceptorAddress, onAccept: AcceptHandler) {
    super();
    this.#fd = bound.fd;
    this.address = { address: bound.address, port: bound.port, family: bound.family };
    this.#onAccept = onAccept;
    try {
      this.#endpoint = new native.Endpoint(bound.fd, constants.KIND_TCP_ACCEPTOR, this.#onEvent);
    } catch (cause) {
      native.closeFd(bound.fd);
      throw new HandoffError(`cannot watch tcp socket ${bound.address} port ${bound.port}`, { cause });
    }
  }

  /** The listening socket's fd (to pass to a successor process with SCM_RIGHTS); -1 once closed. */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  /** accept4() calls that failed, retries included ('error' is emitted once per episode). */
  get failedAccepts(): number {
    return this.#failedAccepts;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Stops accepting. Connections keep completing in the kernel's backlog until resume(). */
  pause(): void {
    if (this.#closed) return;
    this.#paused = true;
    this.#poll();
  }

  /** Accepts again. Connections held back by a pause() from inside the handler come first. */
  resume(): void {
    if (this.#closed) return;
    this.#paused = false;
    if (this.#held) process.nextTick(this.#deliverHeld);
    this.#poll();
  }

  /** Closes the listening socket (idempotent). Connections accepted but not yet handed to
   * onAccept (held by a pause) are closed; the ones already handed over are the handler's. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
    this.#endpoint.close();
    const held = this.#held;
    this.#held = undefined;
    if (held) closeRest(held.batch, held.next);
  }

  /** Lets the process exit while this acceptor is open. */
  unref(): this {
    this.#refed = false;
    this.#endpoint.unref();
    this.#backoffTimer?.unref();
    return this;
  }

  /** Keeps the process alive while this acceptor is open (the default). */
  ref(): this {
    this.#refed = true;
    this.#endpoint.ref();
    this.#backoffTimer?.ref();
    return this;
  }

  /** Polls for connections unless closed, paused, or backing off after EMFILE and friends. */
  #poll(): void {
    if (this.#closed) return;
    this.#endpoint.setEvents(!this.#paused && this.#backoffTimer === undefined, false);
  }

  readonly #onEvent = (event: number, a?: unknown): void => {
    if (event === constants.EV_TCP_ACCEPT) {
      this.#starved = false;
      this.#deliver(a as AcceptBatch, 0);
    } else if (event === constants.EV_ERROR) this.#failed(a as SystemError);
  };

  readonly #deliverHeld = (): void => {
    const held = this.#held;
    if (!held || this.#paused || this.#closed) return;
    this.#held = undefined;
    this.#deliver(held.batch, held.next);
  };

  /**
   * Calls onAccept for each connection of the batch from `next` on. If the handler throws, the
   * fds not yet handed to it are closed and the exception is rethrown (it becomes an uncaught
   * exception, as from any event listener); the fd of the throwing call stays the handler's.
   * If the handler closes the acceptor, the rest are closed; if it pauses, the rest wait.
   */
  #deliver(batch: AcceptBatch, start: number): void {
    let next = start;
    try {
      while (next < batch.length && !this.#closed) {
        if (this.#paused) {
          this.#held = { batch, next };
          return;
        }
        const at = next;
        next += FIELDS;
        this.#onAccept(
          batch[at] as number,
          batch[at + 1] as string,
          batch[at + 2] as number,
          batch[at + 3] as string,
          batch[at + 4] as number,
        );
      }
    } finally {
      if (this.#held?.batch !== batch) closeRest(batch, next);
    }
  }

  #failed(cause: SystemError): void {
    this.#failedAccepts++;
    const resource = RESOURCE_ERRORS.has(cause.code);
    if (resource && !this.#closed && this.#backoffTimer === undefined) {
      this.#backoffTimer = setTimeout(() => {
        this.#backoffTimer = undefined;
        this.#poll();
      }, RESOURCE_PAUSE_MS);
      if (!this.#refed) this.#backoffTimer.unref();
      this.#poll();
    }
    if (resource) {
      if (this.#starved) return; // once per episode
      this.#starved = true;
    }
    this.emit("error", new HandoffAcceptError(cause.code, { cause }));
  }
}

/** Closes the fds of a batch from index `next` on (connections never handed to onAccept). */
function closeRest(batch: AcceptBatch, next: number): void {
  for (let at = next; at < batch.length; at += FIELDS) native.closeFd(batch[at] as number);
}
