import type { Socket } from "node:net";
import { ipPrefixKey } from "@switchyard/cidr";

/** Why a connection was not admitted. */
export type Refusal = "max-connections" | "per-address";

/** Why a deadline closed a connection (or reset an HTTP/2 stream). */
export type Expiry = "session" | "idle" | "query" | "request" | "stream" | "closing";

export interface SlotLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  sessionTimeoutMs: number;
}

/** What the slots report (metrics). */
export interface SlotEvents {
  held(connections: number, addresses: number): void;
  refused(reason: Refusal): void;
  expired(reason: Expiry): void;
}

/**
 * One admitted connection's hold on the replica, and its deadlines. Everything it holds is given
 * back by one function, run once, when the edge's raw socket emits 'close': every ending (FIN,
 * reset, deadline, TLS failure, HTTP/2 GOAWAY, drain) ends there, because TLS and HTTP/2 sit on that
 * socket and destroying either destroys it.
 */
export class ConnectionSlot {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly releases: Array<() => void> = [];
  private released = false;
  /** What the protocol does when the replica drains (default: close at once). */
  drain: () => void = () => this.socket.destroy();

  constructor(
    /** The socket the edge handed over (the one whose 'close' releases the slot). */
    readonly socket: Socket,
    private readonly onExpire: (reason: Expiry) => void,
  ) {}

  /**
   * Starts the deadline `key` (restarts it, with its first duration and action, if running); when it
   * passes, `action` runs (default: the connection is destroyed). Bytes never restart a deadline:
   * only the protocol code does, at a whole query or request.
   */
  deadline(key: string, reason: Expiry, ms: number, action: () => void = () => this.socket.destroy()): void {
    if (this.released) return;
    const running = this.timers.get(key);
    if (running !== undefined) {
      running.refresh();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.onExpire(reason);
      action();
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  cancel(key: string): void {
    const timer = this.timers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(key);
  }

  has(key: string): boolean {
    return this.timers.has(key);
  }

  /** Runs `release` when the slot is released (protocol state kept outside the slot). */
  onRelease(release: () => void): void {
    if (this.released) release();
    else this.releases.push(release);
  }

  /** Stops every deadline and runs the release hooks; later deadlines are ignored (slot release only). */
  clear(): void {
    if (this.released) return;
    this.released = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const release of this.releases.splice(0)) release();
  }
}

/**
 * The DNS/TCP and DoH connections a replica holds: a global cap, a cap per client (IPv4 address,
 * IPv6 /64) and an overall session deadline per connection.
 */
export class ConnectionSlots {
  private readonly held = new Set<ConnectionSlot>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: () => SlotLimits,
    private readonly events: SlotEvents,
  ) {}

  /** A slot for `socket` from `address`, or why not (the caller closes the socket). */
  admit(socket: Socket, address: string): ConnectionSlot | Refusal {
    const limits = this.limits();
    if (this.held.size >= limits.maxConnections) return this.refuse("max-connections");
    const key = ipPrefixKey(address, 32, 64) ?? address;
    const count = this.perAddress.get(key) ?? 0;
    if (count >= limits.maxConnectionsPerAddress) return this.refuse("per-address");
    const slot = new ConnectionSlot(socket, (reason) => this.events.expired(reason));
    this.held.add(slot);
    this.perAddress.set(key, count + 1);
    this.report();
    // The one release: every way a connection ends closes this socket.
    socket.once("close", () => {
      slot.clear();
      if (!this.held.delete(slot)) return;
      const left = (this.perAddress.get(key) ?? 1) - 1;
      if (left > 0) this.perAddress.set(key, left);
      else this.perAddress.delete(key);
      this.report();
    });
    slot.deadline("session", "session", limits.sessionTimeoutMs);
    return slot;
  }

  get size(): number {
    return this.held.size;
  }

  /** The connections held now (drain, stop). */
  all(): ConnectionSlot[] {
    return [...this.held];
  }

  private refuse(reason: Refusal): Refusal {
    this.events.refused(reason);
    return reason;
  }

  private report(): void {
    this.events.held(this.held.size, this.perAddress.size);
  }
}
