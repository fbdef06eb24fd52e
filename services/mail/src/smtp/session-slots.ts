import type { Socket } from "node:net";
import type { MailMetrics } from "../metrics.js";

/** One handed-off connection's share of the front: its place in the counts, and its timers. */
export interface SessionSlot {
  /** True when this connection is past the per-address limit (it is refused, then released). */
  readonly overLimit: boolean;
  /** Runs `onFire` after `ms` unless the slot is released first. */
  timer(ms: number, onFire: () => void): SlotTimer;
  /** Gives everything back; idempotent. Runs by itself when the handed-off socket closes. */
  release(): void;
}

/** A deadline of one session: `refresh()` starts the wait again, `hold()` stops it until the next refresh. */
export interface SlotTimer {
  refresh(): void;
  hold(): void;
}

/**
 * Every per-connection resource of the SMTP front, in one place: the per-address count, the open
 * socket set (for drain), the sessions gauge, the session timers. A slot is taken when the edge hands
 * a connection over and given back by ONE idempotent `release`, hung off the handed-off socket's
 * "close" — the raw socket, which also closes when the TLS socket over it ends, so QUIT, resets,
 * timeouts, STARTTLS, implicit TLS, refusals and drain all end up there.
 */
export class SessionSlots {
  private readonly perAddress = new Map<string, number>();
  readonly open = new Set<Socket>();

  constructor(
    /** Sessions per client address beyond which new ones are refused (changed by a reload). */
    public maxPerAddress: number,
    private readonly metrics: MailMetrics,
  ) {}

  acquire(socket: Socket, address: string, role: string): SessionSlot {
    const count = (this.perAddress.get(address) ?? 0) + 1;
    this.perAddress.set(address, count);
    this.open.add(socket);
    this.metrics.sessionStarted(role);
    this.metrics.clientAddresses(this.perAddress.size);
    const timers = new Set<{ hold(): void }>();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const t of timers) t.hold();
      timers.clear();
      this.open.delete(socket);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
      this.metrics.sessionEnded();
      this.metrics.clientAddresses(this.perAddress.size);
    };
    socket.once("close", release);
    return {
      overLimit: this.maxPerAddress > 0 && count > this.maxPerAddress,
      timer: (ms, onFire) => {
        let pending: NodeJS.Timeout | undefined;
        let fired = false;
        const timer: SlotTimer = {
          refresh() {
            clearTimeout(pending);
            if (released || fired) return;
            pending = setTimeout(() => {
              fired = true;
              timers.delete(timer);
              onFire();
            }, ms);
          },
          hold() {
            clearTimeout(pending);
            pending = undefined;
          },
        };
        timers.add(timer);
        timer.refresh();
        return timer;
      },
      release,
    };
  }

  /** Sessions open from `address` (0 once all of them were released). */
  countFor(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  get size(): number {
    return this.open.size;
  }
}
