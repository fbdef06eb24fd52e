import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { availableParallelism } from "node:os";
import { closeFd } from "@switchyard/handoff";
import { RelayError } from "../errors.js";
import type { Relay, RelayEnd, RelayOptions, RelayResult } from "./relay.js";

interface Binding {
  /** Starts `threads` relay threads; ends arrive in batches of [id, bytesIn, bytesOut, reason]. */
  init(onEnded: (ends: Float64Array) => void, threads: number): void;
  start(
    id: number,
    clientFd: number,
    upstreamFd: number,
    prefix: Buffer,
    idleMs: number,
    halfOpen: boolean,
  ): void;
  closeAll(): void;
  dup(fd: number): number;
  connect(
    id: number,
    clientFd: number,
    ip: string,
    port: number,
    prefix: Buffer,
    idleMs: number,
    halfOpen: boolean,
    connectTimeoutMs: number,
  ): number;
  END_CONNECT_FAILED: number;
  END_CONNECT_TIMEOUT: number;
  END_CLOSED: number;
  END_BOTH: number;
  END_IDLE: number;
  END_ERROR: number;
  END_SHUTDOWN: number;
}

/** The compiled addon (binding.gyp, native/relay.c), built by `node-gyp rebuild` into build/Release. */
function load(): Binding {
  try {
    return createRequire(import.meta.url)("../../build/Release/relay.node") as Binding;
  } catch (err) {
    throw new RelayError("the native splice relay is not built (npm run build in services/stream)", {
      cause: err,
    });
  }
}

/** The fd inside a connected net.Socket (Node keeps it in the libuv handle). */
function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new RelayError("a connected socket without an fd");
  return fd;
}

let shared: SpliceRelay | undefined;

/**
 * The native relay (native/relay.c): relay threads (one per CPU by default) splice every pair through
 * kernel pipes, so no byte of a forwarded connection reaches JavaScript. The upstream socket Node connected is duplicated and
 * its own fd closed (no FIN: the duplicate keeps the connection). One per process.
 */
export class SpliceRelay implements Relay {
  readonly kind = "splice";
  private readonly pending = new Map<number, (r: RelayResult) => void>();
  private nextId = 1;
  private readonly ends: Record<number, RelayEnd>;

  private constructor(
    private readonly native: Binding,
    readonly threads: number,
  ) {
    this.ends = {
      [native.END_CLOSED]: "closed",
      [native.END_BOTH]: "both-closed",
      [native.END_IDLE]: "idle",
      [native.END_ERROR]: "error",
      [native.END_SHUTDOWN]: "shutdown",
      [native.END_CONNECT_FAILED]: "connect-failed",
      [native.END_CONNECT_TIMEOUT]: "connect-timeout",
    };
    native.init((ends) => {
      for (let i = 0; i < ends.length; i += 4) {
        const id = ends[i] as number;
        const done = this.pending.get(id);
        if (!done) continue;
        this.pending.delete(id);
        done({
          bytesIn: ends[i + 1] as number,
          bytesOut: ends[i + 2] as number,
          end: this.ends[ends[i + 3] as number] ?? "error",
        });
      }
    }, threads);
  }

  /**
   * The process's relay, started on first use with `threads` threads (a connection goes to the
   * thread with the fewest; later calls get the running relay whatever they ask).
   */
  static get(threads = availableParallelism()): SpliceRelay {
    shared ??= new SpliceRelay(load(), Math.max(1, Math.min(64, Math.floor(threads))));
    return shared;
  }

  get active(): number {
    return this.pending.size;
  }

  relay(
    clientFd: number,
    upstream: Socket,
    prefix: Buffer,
    options: RelayOptions,
    done: (r: RelayResult) => void,
  ): void {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    let upstreamFd = -1;
    try {
      upstreamFd = this.native.dup(socketFd(upstream));
    } catch {
      // Reported below like any relay that could not start: both closed, end "error".
    }
    upstream.destroy();
    if (upstreamFd < 0) {
      closeFd(clientFd);
      queueMicrotask(() => done({ bytesIn: 0, bytesOut: 0, end: "error" }));
      return;
    }
    this.pending.set(id, done);
    try {
      // From here the native side owns both fds (it closes them itself if it cannot take them).
      this.native.start(id, clientFd, upstreamFd, prefix, options.idleTimeoutMs, options.halfOpen);
    } catch {
      this.pending.delete(id);
      queueMicrotask(() => done({ bytesIn: 0, bytesOut: 0, end: "error" }));
    }
  }

  connectAndRelay(
    clientFd: number,
    ip: string,
    port: number,
    prefix: Buffer,
    options: RelayOptions & { connectTimeoutMs: number },
    done: (r: RelayResult) => void,
  ): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    const { idleTimeoutMs, halfOpen, connectTimeoutMs } = options;
    const rc = this.native.connect(id, clientFd, ip, port, prefix, idleTimeoutMs, halfOpen, connectTimeoutMs);
    if (rc === 0) this.pending.set(id, done);
    return rc;
  }

  closeAll(): void {
    this.native.closeAll();
  }
}
