import type { MailQueueConfig } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { pendingLocal, pendingRemote, type QueueRecipient } from "../spool/queue-entry.js";
import type { Spool } from "../spool/spool.js";
import type { SpooledMessage } from "../spool/spool-layout.js";

/** What one delivery attempt did for one recipient. */
export interface RecipientOutcome {
  status: "delivered" | "deferred" | "failed";
  /** The server's reply or the error, one line. */
  reply: string;
  remoteMta?: string;
}

/** Hands a message to other servers: the recipients are pending and remote (no mailbox). */
export interface RemoteDelivery {
  deliver(message: SpooledMessage, recipients: readonly QueueRecipient[]): Promise<RecipientOutcome[]>;
}

/** Sends the sender a DSN for the recipients that failed for good. */
export type Bouncer = (message: SpooledMessage, failed: readonly QueueRecipient[]) => Promise<void>;

export interface DeliveryQueueDeps {
  spool: Spool;
  config: MailQueueConfig;
  logger: Pick<Logger, "info" | "warn" | "error">;
  remote?: RemoteDelivery;
  bounce?: Bouncer;
  onAttempt?: (outcome: "delivered" | "deferred" | "failed", count: number) => void;
}

const DAY_MS = 86_400_000;

/** The wait before retry number `attempt` (1-based): doubling from retryInitialMs up to retryMaxMs, ±25 %. */
export function retryDelay(config: MailQueueConfig, attempt: number, random = Math.random()): number {
  const base = Math.min(config.retryMaxMs, config.retryInitialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random * 0.5));
}

/**
 * The queue runner of one replica: takes due entries from the shared `ready/` (one rename wins, so
 * a message is handled by one replica at a time), delivers pending local recipients (recovered
 * entries) and relays the remote ones; what is deferred goes back with a later due time, what fails
 * for good (a 5xx, or older than `maxAgeDays`) is bounced to the sender, except a bounce.
 */
export class DeliveryQueue {
  private readonly running = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: DeliveryQueueDeps) {}

  start(): void {
    const every = Math.min(1000, Math.max(100, Math.floor(this.deps.config.retryInitialMs / 2)));
    this.timer = setInterval(() => this.kick(), every);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due entries now (after a message was queued, a recovery, a flush). */
  kick(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.again = true;
      return;
    }
    this.scanning = true;
    this.scan()
      .catch((err: unknown) => this.deps.logger.warn({ err }, "queue scan failed"))
      .finally(() => {
        this.scanning = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops taking entries and waits for the ones being delivered. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.running]);
  }

  private async scan(): Promise<void> {
    const now = Date.now();
    const due = (await this.deps.spool.listReady())
      .filter((r) => r.dueAt <= now && !this.deps.spool.held.has(r.id))
      .sort((a, b) => a.dueAt - b.dueAt);
    for (const ready of due) {
      if (this.stopped) return;
      while (this.running.size >= this.deps.config.concurrency) await Promise.race(this.running);
      const message = await this.deps.spool.claim(ready);
      if (!message) continue;
      const run = this.process(message).finally(() => this.running.delete(run));
      this.running.add(run);
    }
  }

  /** One delivery round for an entry this replica holds. */
  async process(message: SpooledMessage): Promise<void> {
    const { spool, logger, config } = this.deps;
    const { entry } = message;
    try {
      const locals = pendingLocal(entry);
      if (locals.length > 0) {
        try {
          await spool.deliverLocal(message, { recovering: true });
          this.deps.onAttempt?.("delivered", locals.length);
        } catch (err) {
          for (const r of locals) {
            r.attempts++;
            r.lastError = `local delivery failed: ${(err as Error).message}`;
          }
          this.deps.onAttempt?.("deferred", locals.length);
          logger.warn({ err, message: message.id }, "local delivery failed; will retry");
        }
      }
      const remote = pendingRemote(entry);
      if (remote.length > 0 && this.deps.remote) {
        const outcomes = await this.deps.remote.deliver(message, remote);
        remote.forEach((r, i) => {
          const outcome = outcomes[i] ?? { status: "deferred", reply: "no outcome" };
          r.attempts++;
          r.lastError = outcome.status === "delivered" ? undefined : outcome.reply;
          if (outcome.remoteMta) r.remoteMta = outcome.remoteMta;
          if (outcome.status !== "deferred") r.status = outcome.status;
          this.deps.onAttempt?.(outcome.status, 1);
        });
      }
      entry.attempts++;
      const expired = Date.now() - entry.createdAt > config.maxAgeDays * DAY_MS;
      const failedNow = entry.recipients.filter((r) => r.status === "failed" && !r.bounced);
      if (expired) {
        for (const r of entry.recipients.filter((x) => x.status === "pending")) {
          r.status = "failed";
          r.lastError = `expired after ${config.maxAgeDays} days in the queue; last error: ${r.lastError ?? "none"}`;
          failedNow.push(r);
        }
      }
      if (failedNow.length > 0) await this.bounce(message, failedNow);
      const dueAt = Date.now() + retryDelay(config, entry.attempts);
      const result = await spool.settle(message, dueAt);
      logger.info(
        {
          message: message.id,
          result,
          attempts: entry.attempts,
          delivered: entry.recipients.filter((r) => r.status === "delivered").length,
          failed: entry.recipients.filter((r) => r.status === "failed").length,
          pending: entry.recipients.filter((r) => r.status === "pending").length,
          ...(result === "queued" ? { nextAttemptAt: new Date(dueAt).toISOString() } : {}),
        },
        "delivery round done",
      );
    } catch (err) {
      // Stays committed in this replica's work/; the next recovery sweep puts it back in ready/.
      spool.letGo(message);
      logger.error({ err, message: message.id }, "delivery round failed; the entry will be retried");
    }
  }

  /** Bounces the failed recipients once (marked so a retry of the entry does not bounce them again). */
  private async bounce(message: SpooledMessage, failed: QueueRecipient[]): Promise<void> {
    const { entry } = message;
    if (entry.from !== "" && this.deps.bounce) {
      await this.deps.bounce(message, failed);
    } else if (entry.from === "") {
      this.deps.logger.warn(
        { message: message.id, recipients: failed.map((r) => r.address) },
        "a bounce could not be delivered; dropped (a bounce is never bounced)",
      );
    }
    for (const r of failed) r.bounced = true;
  }
}
