import type { Socket } from "node:net";

/** How a relayed connection ended. */
export type RelayEnd = "closed" | "both-closed" | "idle" | "error" | "shutdown";

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
  /** Pairs still open. */
  readonly active: number;
  /** Closes every pair (each `done` still runs, with end "shutdown"). */
  closeAll(): void;
}
