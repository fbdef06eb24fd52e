import { certKey } from "@switchyard/certstore";
import type { KV, Logger } from "@switchyard/runtime";

/**
 * The right to order one certificate name: a key in the locks bucket created only if absent. The
 * bucket's max age is the lock TTL, and the holder rewrites the key every third of it, so a holder
 * that dies loses the lock after at most one TTL and another replica takes over.
 */
export class OrderLock {
  private timer: NodeJS.Timeout | undefined;
  /** True once a refresh failed: someone else may hold it now. */
  lost = false;

  private constructor(
    private readonly kv: KV,
    private readonly key: string,
    private readonly holder: string,
    private revision: number,
    private readonly logger: Logger,
    ttlMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh(), Math.max(200, Math.floor(ttlMs / 3)));
  }

  /** The lock, or undefined when another replica holds it. */
  static async acquire(
    kv: KV,
    name: string,
    holder: string,
    ttlMs: number,
    logger: Logger,
  ): Promise<OrderLock | undefined> {
    const key = certKey(name);
    try {
      const revision = await kv.create(key, JSON.stringify({ holder, at: Date.now() }));
      return new OrderLock(kv, key, holder, revision, logger, ttlMs);
    } catch (err) {
      if (/wrong last sequence|key exists/i.test(String((err as Error).message))) return undefined;
      throw err;
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.revision = await this.kv.update(
        this.key,
        JSON.stringify({ holder: this.holder, at: Date.now() }),
        this.revision,
      );
    } catch (err) {
      if (!this.lost) this.logger.warn({ err, key: this.key }, "order lock could not be renewed");
      this.lost = true;
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.lost) return;
    await this.kv.delete(this.key, { previousSeq: this.revision }).catch(() => {});
  }
}
