import { join } from "node:path";
import type { Logger } from "@switchyard/runtime";
import { isMissing } from "./file-ops.js";
import { isSpareName } from "./spare-files.js";
import type { Spool } from "./spool.js";

export interface RecoveryResult {
  /** Replicas found dead (lease expired, or directories without a lease). */
  owners: number;
  /** Committed entries moved to `ready/` to be delivered. */
  recovered: number;
  /** Messages that were still being received: removed, never delivered. */
  dropped: number;
}

/**
 * Keeps this replica's lease alive and sweeps the shared spool for replicas that died: what they
 * were receiving (`tmp/<owner>`, and `<owner>.*` files in Maildir `tmp/`) is removed, since its
 * client never got 250; what they had
 * committed and were delivering (`work/<owner>`) goes to `ready/`, due now, for any replica to take.
 * Entries in this replica's own `work/` that nothing holds (a delivery that threw) go back too.
 */
export class SpoolRecovery {
  private heartbeat?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<RecoveryResult>;

  constructor(
    private readonly spool: Spool,
    private readonly options: {
      leaseMs: number;
      logger: Pick<Logger, "info" | "warn">;
      /** Ids this replica is working on right now; the rest of its own `work/` is stray. */
      inFlight: () => ReadonlySet<string>;
      onRecovered?: () => void;
      onSwept?: (result: RecoveryResult) => void;
    },
  ) {}

  /** Sweeps once, then keeps the lease fresh and sweeps again every half lease. */
  async start(): Promise<RecoveryResult> {
    const first = await this.sweep();
    this.heartbeat = setInterval(
      () => {
        this.spool.renewLease().then(
          (held) => {
            if (!held)
              this.options.logger.warn({ owner: this.spool.owner }, "spool lease had expired; renewed");
          },
          (err: unknown) => this.options.logger.warn({ err }, "cannot renew the spool lease"),
        );
      },
      Math.max(100, this.options.leaseMs / 4),
    );
    this.heartbeat.unref();
    this.sweeper = setInterval(
      () => {
        this.sweep().catch((err: unknown) => this.options.logger.warn({ err }, "spool recovery failed"));
      },
      Math.max(200, this.options.leaseMs / 2),
    );
    this.sweeper.unref();
    return first;
  }

  stop(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
  }

  /** One pass; concurrent callers share it. */
  sweep(): Promise<RecoveryResult> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<RecoveryResult> {
    const ops = this.spool.fileOps;
    const result: RecoveryResult = { owners: 0, recovered: 0, dropped: 0 };
    const owners = new Set([
      ...(await ops.list(this.spool.ownersDir)),
      ...(await ops.list(this.spool.tmpRoot)),
      ...(await ops.list(this.spool.workRoot)),
    ]);
    owners.delete(this.spool.owner);
    const now = Date.now();
    for (const owner of owners) {
      const renewed = await ops.modifiedAt(join(this.spool.ownersDir, owner));
      if (renewed !== undefined && now - renewed <= this.options.leaseMs) continue;
      result.owners++;
      // Its spare file (opened ahead, empty) goes too but is no message: not counted.
      const dropped = (await ops.list(join(this.spool.tmpRoot, owner))).filter((name) => !isSpareName(name));
      await ops.remove(join(this.spool.tmpRoot, owner));
      const partial = await this.spool.maildirs.dropPartial(owner, this.spool.queueDir);
      result.dropped += dropped.length + partial;
      result.recovered += await this.requeue(join(this.spool.workRoot, owner), () => true);
      // Not recursive: a replica that was only stalled and commits now keeps its entry (its lease is
      // gone, so a later sweep moves it).
      await ops.rmdir(join(this.spool.workRoot, owner)).catch(() => {});
      await ops.unlink(join(this.spool.ownersDir, owner)).catch(() => {});
      this.options.logger.info(
        { owner, dropped: dropped.length + partial, lease: renewed === undefined ? "none" : "expired" },
        "recovered the spool of a replica that is gone",
      );
    }
    const inFlight = this.options.inFlight();
    result.recovered += await this.requeue(
      join(this.spool.workRoot, this.spool.owner),
      (id) => !inFlight.has(id),
    );
    if (result.recovered > 0) {
      this.options.logger.info(result, "spool entries recovered for delivery");
      this.options.onRecovered?.();
    }
    this.options.onSwept?.(result);
    return result;
  }

  /** Moves the entries of a `work/` directory to `ready/`, due now; returns how many moved. */
  private async requeue(workDir: string, take: (id: string) => boolean): Promise<number> {
    const ops = this.spool.fileOps;
    let moved = 0;
    for (const id of await ops.list(workDir)) {
      if (!take(id)) continue;
      try {
        await ops.rename(join(workDir, id), join(this.spool.readyDir, `${id}@0`));
        moved++;
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return moved;
  }
}
