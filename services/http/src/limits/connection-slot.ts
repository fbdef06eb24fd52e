import type { Socket } from "node:net";

/**
 * Why a deadline ended a connection (or an HTTP/2 stream). `drain`: a connection handed over while
 * the worker drains brought no request within the drain's grace (http-service.ts, DRAIN_GRACE_MS).
 */
export type Expiry = "handshake" | "header" | "idle" | "stream" | "closing" | "drain";

/**
 * One deadline of a slot: its timer, kept for reuse; `armed` false once cancelled or passed. The
 * timer's callback is one shared function (no closure per deadline); `action` undefined is the
 * default, destroying the socket.
 */
class Deadline {
  armed = true;
  readonly timer: NodeJS.Timeout;

  constructor(
    readonly slot: ConnectionSlot,
    readonly key: string,
    readonly ms: number,
    public reason: Expiry,
    public action: (() => void) | undefined,
  ) {
    this.timer = setTimeout(fireDeadline, ms, this);
    this.timer.unref();
  }
}

function fireDeadline(d: Deadline): void {
  if (!d.armed) return;
  d.armed = false;
  d.slot.expire(d);
}

/** The default drain and deadline action, shared by every slot (called with the slot as `this`). */
function destroySlotSocket(this: ConnectionSlot): void {
  this.socket.destroy();
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
  /**
   * The deadlines with a timer, by key: an array, not a Map (one or two per connection). A cancelled
   * one is kept for its key's next arming (refresh(), no new timer), and given up when another key
   * is armed instead (an HTTP/1.1 connection's header deadline once its idle deadline starts).
   */
  private timers: Deadline[] = [];
  private releases: Array<() => void> | undefined;
  private released = false;
  /** What the protocol does when the worker drains (default: close at once). */
  drain: () => void = destroySlotSocket;

  constructor(
    readonly socket: Socket,
    private readonly onExpire: (reason: Expiry) => void,
  ) {}

  /**
   * Starts (or restarts) deadline `key`; when it passes, `action` runs (default: destroy). A key's
   * timer is made once and re-armed with refresh() (a keep-alive connection restarts its idle
   * deadline at every response); a cancelled one that still fires does nothing.
   */
  deadline(key: string, reason: Expiry, ms: number, action?: () => void): void {
    if (this.released) return;
    const known = this.find(key);
    if (known && known.ms === ms) {
      known.reason = reason;
      known.action = action;
      known.armed = true;
      known.timer.refresh();
      return;
    }
    // Timers no longer armed (this key's with another duration, others cancelled or passed) go.
    this.timers = this.timers.filter((d) => {
      if (d.armed) return true;
      clearTimeout(d.timer);
      return false;
    });
    if (known?.armed) {
      clearTimeout(known.timer);
      this.timers.splice(this.timers.indexOf(known), 1);
    }
    this.timers.push(new Deadline(this, key, ms, reason, action));
  }

  cancel(key: string): void {
    const known = this.find(key);
    if (known) known.armed = false;
  }

  private find(key: string): Deadline | undefined {
    for (const d of this.timers) if (d.key === key) return d;
    return undefined;
  }

  /** A deadline passed (its timer's callback): counted, then its action (default: destroy). */
  expire(d: Deadline): void {
    this.onExpire(d.reason);
    if (d.action) d.action();
    else this.socket.destroy();
  }

  /** Deadlines running now (tests: back to zero after every ending). */
  get deadlines(): number {
    let armed = 0;
    for (const d of this.timers) if (d.armed) armed++;
    return armed;
  }

  /** Timers held, armed or not (tests: an idle connection keeps one, not one per deadline it had). */
  get timersHeld(): number {
    return this.timers.length;
  }

  onRelease(release: () => void): void {
    if (this.released) {
      release();
      return;
    }
    this.releases ??= [];
    this.releases.push(release);
  }

  /** Stops every deadline and runs the release hooks, once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const d of this.timers) {
      d.armed = false;
      clearTimeout(d.timer);
    }
    this.timers = [];
    const releases = this.releases ?? [];
    this.releases = undefined;
    for (const release of releases) release();
  }
}

const SLOT = Symbol("switchyard.http.slot");
const SLOTS = Symbol("switchyard.http.slots");
type SlotSocket = Socket & { [SLOT]?: ConnectionSlot; [SLOTS]?: ConnectionSlots };

/** The 'close' listener of every admitted socket (one function, the slot found on the socket). */
function releaseSlot(this: SlotSocket): void {
  const slot = this[SLOT];
  const slots = this[SLOTS];
  if (slot && slots) slots.forget(slot);
}

/** The connections a worker holds, under one cap. */
export class ConnectionSlots {
  private readonly held = new Set<ConnectionSlot>();
  /** Every slot's expiry report: one function for all (not a closure per connection). */
  private readonly expired = (reason: Expiry) => this.events.expired(reason);

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
    const slot = new ConnectionSlot(socket, this.expired);
    this.held.add(slot);
    this.events.held(this.held.size);
    // The one release: every way a connection ends closes this socket ('close' is emitted once).
    (socket as SlotSocket)[SLOT] = slot;
    (socket as SlotSocket)[SLOTS] = this;
    socket.on("close", releaseSlot);
    return slot;
  }

  /** Runs once per slot, from its socket's 'close'. */
  forget(slot: ConnectionSlot): void {
    slot.release();
    if (this.held.delete(slot)) this.events.held(this.held.size);
  }

  get size(): number {
    return this.held.size;
  }

  all(): ConnectionSlot[] {
    return [...this.held];
  }
}
