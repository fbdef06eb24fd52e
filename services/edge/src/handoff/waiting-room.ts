/**
 * Connections routed to a pool that has no worker free to take them, held for a bounded time
 * (HAProxy's `timeout queue`): a pool of one being replaced (compose recreating its container, a
 * crash and restart) or every worker at capacity costs clients a short wait instead of a refusal.
 *
 * Each entry leaves exactly once, through `take` (a worker is free: dispatch it), its deadline
 * (`onExpired`: refuse it) or `clear` (the edge stops). Timers are cleared on every one of those
 * paths. A client that hangs up while waiting is not seen until then (the edge does not read a
 * connection it has routed); the deadline and the per-pool bound cap what it can hold.
 */
export class WaitingRoom<T> {
  private readonly pools = new Map<string, Set<Entry<T>>>();
  private count = 0;

  constructor(
    private readonly settings: { waitMs: number; maxPerPool: number },
    private readonly onExpired: (item: T) => void,
  ) {}

  /** How many connections wait, all pools together. */
  get size(): number {
    return this.count;
  }

  /** Holds `item` for a worker of `pool`; false when waiting is off or the pool's room is full. */
  park(pool: string, item: T): boolean {
    const { waitMs, maxPerPool } = this.settings;
    if (waitMs <= 0) return false;
    let entries = this.pools.get(pool);
    if (entries && entries.size >= maxPerPool) return false;
    if (!entries) {
      entries = new Set();
      this.pools.set(pool, entries);
    }
    const entry: Entry<T> = { item, timer: undefined };
    const room = entries;
    entry.timer = setTimeout(() => {
      if (this.leave(pool, room, entry)) this.onExpired(item);
    }, waitMs);
    entry.timer.unref();
    entries.add(entry);
    this.count++;
    return true;
  }

  /** Pools with someone waiting. */
  waitingPools(): string[] {
    return [...this.pools.keys()];
  }

  /** The longest-waiting item of `pool`, out of the room; undefined when none waits. */
  take(pool: string): T | undefined {
    const entries = this.pools.get(pool);
    const first = entries?.values().next().value;
    if (!entries || !first) return undefined;
    this.leave(pool, entries, first);
    return first.item;
  }

  /** Empties the room, handing every item to `each` (the edge stops: refuse them). */
  clear(each: (item: T) => void): void {
    for (const [pool, entries] of [...this.pools])
      for (const entry of [...entries]) if (this.leave(pool, entries, entry)) each(entry.item);
  }

  /** The one way out: timer cleared, counts down, an empty pool forgotten. */
  private leave(pool: string, entries: Set<Entry<T>>, entry: Entry<T>): boolean {
    if (!entries.delete(entry)) return false;
    clearTimeout(entry.timer);
    this.count--;
    if (entries.size === 0 && this.pools.get(pool) === entries) this.pools.delete(pool);
    return true;
  }
}

interface Entry<T> {
  item: T;
  timer: NodeJS.Timeout | undefined;
}
