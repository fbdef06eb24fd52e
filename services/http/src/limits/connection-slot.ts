import type { Socket } from "node:net";

/** Why a deadline ended a connection (or an HTTP/2 stream). */
export type Expiry = "handshake" | "header" | "idle" | "stream" | "closing";

/** One deadline of a slot: its timer, kept for reuse; `armed` false once cancelled or passed. */
class Deadline {
  armed = true;
  readonly timer: NodeJS.Timeout;

  constructor(
    readonly ms: number,
    public reason: Expiry,
    public action: () => void,
    expire: (d: Deadline) => void,
  ) {
    this.timer = setTimeout(() => {
      if (!this.armed) return;
      this.armed = false;
      expire(this);
    }, ms);
    this.timer.unref();
  }
}

/** What the slots report (metrics). */
export interface SlotEvents {
  held(connections: number): void;
  refused(): void;
  expired(reason: Expiry): void;
}

/**
 * One handed-off connection's hold on the worker, and its deadlines. Everything it holds is given
 * back by one function, run once, when the edge's raw socket emits 'close': every ending (FIN,
 * reset, deadline, TLS failure, HTTP/2 GOAWAY, drain) ends there, because TLS and HTTP sit on that
 * socket and destroying either destroys it. Bytes never restart a deadline; only whole requests do.
 */
export class ConnectionSlot {
  private readonly timers = new Map<string, Deadline>();
  private readonly releases: Array<() => void> = [];
  private released = false;
  private readonly destroySocket = () => this.socket.destroy();
  private readonly expire = (d: Deadline) => {
    this.onExpire(d.reason);
    d.action();
  };
  /** What the protocol does when the worker drains (default: close at once). */
  drain: () => void = this.destroySocket;

  constructor(
    readonly socket: Socket,
    private readonly onExpire: (reason: Expiry) => void,
  ) {}

  /**
   * Starts (or restarts) deadline `key`; when it passes, `action` runs (default: destroy). A key's
   * timer is made once and re-armed with refresh() (a keep-alive connection restarts its idle
   * deadline at every response); a cancelled one that still fires does nothing.
   */
  deadline(key: string, reason: Expiry, ms: number, action: () => void = this.destroySocket): void {
    if (this.released) return;
    const known = this.timers.get(key);
    if (known && known.ms === ms) {
      known.reason = reason;
      known.action = action;
      known.armed = true;
      known.timer.refresh();
      return;
    }
    if (known) clearTimeout(known.timer);
    this.timers.set(key, new Deadline(ms, reason, action, this.expire));
  }

  cancel(key: string): void {
    const known = this.timers.get(key);
    if (known) known.armed = false;
  }

  /** Deadlines running now (tests: back to zero after every ending). */
  get deadlines(): number {
    let armed = 0;
    for (const d of this.timers.values()) if (d.armed) armed++;
    return armed;
  }

  onRelease(release: () => void): void {
    if (this.released) release();
    else this.releases.push(release);
  }

  /** Stops every deadline and runs the release hooks, once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const d of this.timers.values()) {
      d.armed = false;
      clearTimeout(d.timer);
    }
    this.timers.clear();
    for (const release of this.releases.splice(0)) release();
  }
}

/** The connections a worker holds, under one cap. */
export class ConnectionSlots {
  private readonly held = new Set<ConnectionSlot>();

  constructor(
    private readonly max: () => number,
    private readonly events: SlotEvents,
  ) {}

  /** A slot for `socket`, or undefined over the cap (the caller closes the socket). */
  admit(socket: Socket): ConnectionSlot | undefined {
    if (this.held.size >= this.max()) {
      this.events.refused();
      return undefined;
    }
    const slot = new ConnectionSlot(socket, (reason) => this.events.expired(reason));
    this.held.add(slot);
    this.events.held(this.held.size);
    // The one release: every way a connection ends closes this socket.
    socket.once("close", () => {
      slot.release();
      if (this.held.delete(slot)) this.events.held(this.held.size);
    });
    return slot;
  }

  get size(): number {
    return this.held.size;
  }

  all(): ConnectionSlot[] {
    return [...this.held];
  }
}
