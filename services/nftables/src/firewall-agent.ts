import type { Logger } from "@switchyard/runtime";
import { type Ban, BanBook } from "./bans/ban-book.js";
import type { BanStore } from "./bans/ban-store.js";
import { BanError, NftError, RulesetInputError } from "./errors.js";
import type { ApplyReason, FirewallMetrics } from "./metrics.js";
import type { NftRunner } from "./nft/nft-runner.js";
import { readTableState, type TableState } from "./nft/table-state.js";
import { contains, type Network, network } from "./ruleset/nft-values.js";
import { FAMILY, renderBanUpdate, renderRuleset, TABLE } from "./ruleset/render.js";
import type { Ruleset } from "./ruleset/ruleset.js";

export interface BanSettings {
  defaultSeconds: number;
  maxSeconds: number;
}

export interface ApplyRecord {
  atMs: number;
  reason: ApplyReason;
  ok: boolean;
  error: string;
}

export interface DriftEvent {
  atMs: number;
  kind: "missing" | "changed" | "bans";
  restored: boolean;
  error: string;
}

export interface AgentOptions {
  nft: NftRunner;
  logger: Logger;
  metrics: FirewallMetrics;
  bans: BanSettings;
  now?: () => number;
}

const MAX_DRIFT_EVENTS = 20;
/** Broader bans than these would cut off whole continents: refused. */
const MIN_BAN_PREFIX = { 4: 8, 6: 32 } as const;

/**
 * Owns table inet switchyard: applies whole rulesets, adds and removes bans, notices drift and
 * restores the last ruleset the kernel accepted. Every change to the kernel runs one at a time.
 */
export class FirewallAgent {
  readonly book = new BanBook();
  private ruleset: Ruleset | undefined;
  private fingerprint: string | undefined;
  private settings: BanSettings;
  private store: BanStore | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly driftEvents: DriftEvent[] = [];
  lastApply: ApplyRecord | undefined;
  lastGoodApplyMs = 0;
  resyncs = 0;
  reconcileFailures = 0;
  private readonly now: () => number;

  constructor(private readonly options: AgentOptions) {
    this.settings = options.bans;
    this.now = options.now ?? Date.now;
  }

  get current(): Ruleset | undefined {
    return this.ruleset;
  }

  /** One kernel change at a time, in arrival order. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The file a whole apply of `ruleset` (default: the current one) would write now. */
  render(ruleset: Ruleset | undefined = this.ruleset): string {
    if (!ruleset) throw new RulesetInputError("ruleset", "no ruleset has been built yet");
    return renderRuleset(ruleset, this.book.elements(this.now()).elements);
  }

  /** Replaces the table with `ruleset` plus the current bans. A refusal leaves the kernel as it was. */
  apply(ruleset: Ruleset, reason: ApplyReason, bans: BanSettings = this.settings): Promise<void> {
    return this.serial(() => this.applyNow(ruleset, reason, bans));
  }

  /** Records a ruleset that never reached nft (a config or input error) the way a refusal is recorded. */
  refused(reason: ApplyReason, error: unknown): void {
    this.record(reason, error);
  }

  private record(reason: ApplyReason, error?: unknown): void {
    const { metrics, logger } = this.options;
    const atMs = this.now();
    const ok = error === undefined;
    this.lastApply = { atMs, reason, ok, error: ok ? "" : errorText(error) };
    metrics.applies.inc({ reason, result: ok ? "ok" : "refused" });
    metrics.lastApplyOk.set(ok ? 1 : 0);
    metrics.lastApplyTime.set(atMs / 1000);
    if (ok) {
      this.lastGoodApplyMs = atMs;
      logger.info({ reason, bans: this.book.size }, "table inet switchyard applied");
    } else logger.error({ reason, err: error }, "ruleset refused: the table keeps its previous rules");
  }

  private async applyNow(ruleset: Ruleset, reason: ApplyReason, bans: BanSettings): Promise<void> {
    const { elements, next } = this.book.elements(this.now());
    try {
      await this.options.nft.apply(renderRuleset(ruleset, elements));
    } catch (error) {
      this.record(reason, error);
      throw error;
    }
    this.ruleset = ruleset;
    this.settings = bans;
    this.book.committed(next);
    this.fingerprint = (await this.readState())?.fingerprint;
    this.record(reason);
  }

  private async readState(): Promise<TableState | null> {
    const items = await this.options.nft.listTable(FAMILY, TABLE);
    return items === null ? null : readTableState(items);
  }

  /** Current kernel view of the table, or null when it is missing. */
  state(): Promise<TableState | null> {
    return this.readState();
  }

  /** Loads the stored bans and from now on keeps every ban in `store` too. */
  async attachStore(store: BanStore): Promise<number> {
    const { bans, dropped } = await store.load(this.now());
    if (dropped.length > 0)
      this.options.logger.info({ keys: dropped }, "dropped ended or unreadable stored bans");
    this.store = store;
    for (const ban of bans) this.book.upsert(ban);
    await this.serial(() => this.syncBans());
    this.scheduleSweep();
    return bans.length;
  }

  /** Bans an address or network for `seconds` (default and cap from config). */
  async ban(request: {
    address: string;
    seconds?: number | undefined;
    reason: string;
    source: string;
  }): Promise<Ban> {
    const net = network(request.address, "ban address");
    const minPrefix = MIN_BAN_PREFIX[net.family];
    if (net.prefix < minPrefix)
      throw new BanError(`${net.text} is too broad to ban (at most a /${minPrefix})`);
    const trusted = this.ruleset?.trusted;
    const shield = trusted && [...trusted.v4, ...trusted.v6].find((t) => contains(t, net));
    if (shield)
      throw new BanError(`${net.text} is trusted (firewall.trusted ${shield.text}): a ban would not apply`);
    const seconds = Math.min(request.seconds ?? this.settings.defaultSeconds, this.settings.maxSeconds);
    const now = this.now();
    const ban = this.book.upsert({
      network: net,
      until: now + seconds * 1000,
      reason: request.reason,
      source: request.source,
      createdAt: now,
    });
    this.options.metrics.bansAdded.inc({ source: request.source || "unknown" });
    this.options.metrics.bansActive.set(this.book.size);
    await this.serial(() => this.syncBans());
    this.scheduleSweep();
    await this.persist(() => this.store?.put(ban), ban.network);
    this.options.logger.info(
      {
        address: ban.network.text,
        until: new Date(ban.until).toISOString(),
        reason: ban.reason,
        source: ban.source,
      },
      "banned",
    );
    return ban;
  }

  async unban(address: string): Promise<Ban | undefined> {
    const net = network(address, "unban address");
    const ban = this.book.remove(net);
    if (!ban) return undefined;
    this.options.metrics.bansActive.set(this.book.size);
    await this.serial(() => this.syncBans());
    await this.persist(() => this.store?.remove(net), net);
    this.options.logger.info({ address: net.text }, "unbanned");
    return ban;
  }

  private async persist(write: () => Promise<void> | undefined, net: Network): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.logger.warn(
        { err: error, address: net.text },
        "ban not saved to NATS KV (it holds in the kernel)",
      );
    }
  }

  /** Brings the kernel's ban sets to the book; if that fails, applies the whole table again. */
  private async syncBans(): Promise<void> {
    if (!this.ruleset) return;
    const plan = this.book.plan(this.now());
    if (!plan) return;
    try {
      await this.options.nft.apply(renderBanUpdate(plan));
      this.book.committed(plan.next);
    } catch (error) {
      this.options.logger.warn({ err: error }, "ban update refused: applying the whole table");
      await this.applyNow(this.ruleset, "drift", this.settings);
    }
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    clearTimeout(this.sweepTimer);
    const next = this.book.nextExpiry();
    if (next === undefined) return;
    const delay = Math.min(Math.max(next - this.now(), 50), 60_000);
    this.sweepTimer = setTimeout(() => void this.sweep(), delay);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    const ended = this.book.expire(this.now());
    this.options.metrics.bansActive.set(this.book.size);
    for (const ban of ended) {
      this.options.logger.info({ address: ban.network.text }, "ban ended");
      await this.persist(() => this.store?.remove(ban.network), ban.network);
    }
    await this.serial(() => this.syncBans()).catch((error: unknown) =>
      this.options.logger.error({ err: error }, "ban sets could not be updated after bans ended"),
    );
    this.scheduleSweep();
  }

  /** Compares the kernel's table with the last apply; restores it when it was deleted or changed. */
  reconcile(): Promise<DriftEvent | undefined> {
    return this.serial(async () => {
      if (!this.ruleset || this.stopped) return undefined;
      const { metrics, logger } = this.options;
      let kind: DriftEvent["kind"] | undefined;
      try {
        const state = await this.readState();
        if (state === null) kind = "missing";
        else if (state.fingerprint !== this.fingerprint) kind = "changed";
        else if (!bansMatch(this.book.expectedInKernel(this.now()), state.bans)) kind = "bans";
      } catch (error) {
        metrics.reconcileFailures.inc();
        this.reconcileFailures++;
        logger.error({ err: error }, "cannot read table inet switchyard");
        return undefined;
      }
      if (kind === undefined) return undefined;
      metrics.driftEvents.inc({ kind });
      const event: DriftEvent = { atMs: this.now(), kind, restored: false, error: "" };
      logger.warn({ kind }, "table inet switchyard drifted from what the agent applied: restoring it");
      try {
        await this.applyNow(this.ruleset, "drift", this.settings);
        event.restored = true;
        metrics.resyncs.inc();
        this.resyncs++;
      } catch (error) {
        event.error = errorText(error);
        metrics.reconcileFailures.inc();
        this.reconcileFailures++;
      }
      this.driftEvents.push(event);
      if (this.driftEvents.length > MAX_DRIFT_EVENTS) this.driftEvents.shift();
      return event;
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
  }
}

function bansMatch(expected: { sure: Set<string>; maybe: Set<string> }, actual: Set<string>): boolean {
  for (const text of expected.sure) if (!actual.has(text)) return false;
  for (const text of actual) if (!expected.sure.has(text) && !expected.maybe.has(text)) return false;
  return true;
}

export function errorText(error: unknown): string {
  if (error instanceof NftError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
