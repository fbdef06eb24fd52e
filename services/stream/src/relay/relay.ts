import type { Socket } from "node:net";

/** How a relayed connection ended. */
export type RelayEnd =
  | "closed"
  | "both-closed"
  | "idle"
  | "error"
  | "shutdown"
  /** Only from `connectAndRelay`: the target refused or did not answer; the client fd is still open. */
  | "connect-failed"
  | "connect-timeout";

export interface RelayResult {
  /** Bytes client -> upstream (the prefix not counted) and upstream -> client. */
  bytesIn: number;
  bytesOut: number;
  end: RelayEnd;
}

export interface RelayOptions {
  /** Close both after this long without a byte either way; 0: never. */
  idleTimeoutMs: number;
  /** Pass a half-close on and close when both sides ended; otherwise close both when one ends. */
  halfOpen: boolean;
}

/**
 * Moves the bytes of connected client/upstream pairs until they end. `relay` takes ownership of
 * the client fd and the upstream socket; `done` runs exactly once per pair, after both are closed.
 */
export interface Relay {
  readonly kind: "splice" | "pipe";
  relay(
    clientFd: number,
    upstream: Socket,
    prefix: Buffer,
    options: RelayOptions,
    done: (r: RelayResult) => void,
  ): void;
  /**
   * Connects to `ip:port` itself, then relays (no JavaScript socket at all). Returns 0, or -errno
   * when the connect failed at once (the client fd stays the caller's). On "connect-failed" and
   * "connect-timeout" endings the client fd is handed back open.
   */
  connectAndRelay?(
    clientFd: number,
    ip: string,
    port: number,
    prefix: Buffer,
    options: RelayOptions & { connectTimeoutMs: number },
    done: (r: RelayResult) => void,
  ): number;
  /** Pairs still open. */
  readonly active: number;
  /** Closes every pair (each `done` still runs, with end "shutdown"). */
  closeAll(): void;
}
