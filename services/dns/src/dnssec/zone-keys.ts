import { ensureKvKey } from "@switchyard/certstore";
import { type KV, type Logger, NATS_BUCKETS, openKv } from "@switchyard/runtime";
import { RolloverError } from "../errors.js";
import type { NatsLink } from "../nats-link.js";
import type { ZoneSet } from "../zones/zone-set.js";
import { cleanupDue, cleanupRollover, finishRollover, startRollover } from "./key-states.js";
import { DNSKEY_TTL } from "./publish-keys.js";
import { type AlgorithmName, ZoneKey } from "./zone-key.js";
import {
  openKeySet,
  parseStoredKeySet,
  type StoredKeySet,
  storeKey,
  storeNewKeySet,
  ZoneKeySet,
} from "./zone-key-set.js";

const RETRY_MS = 2000;

export interface ZoneKeysOptions {
  /** Keys are shared through the `dns-keys` bucket; without NATS each replica makes its own (logged). */
  nats: NatsLink | undefined;
  /** The 32-byte key file that seals private keys in KV (SWITCHYARD_KV_KEY_FILE, as for certificates). */
  kvKeyFile: string | undefined;
  logger: Logger;
  /** A zone's key set arrived or changed (here or on another replica): the zones are re-encoded. */
  changed: () => void;
  now?: () => number;
  /** The automatic cleanup looks at the clock at least this often (default 60 s). */
  cleanupCheckMs?: number;
}

/** A rollover step (`yardctl dns rollover start|finish|cleanup`). */
export type RolloverStep = "start" | "finish" | "cleanup";

interface Wanted {
  origin: string;
  algorithm: AlgorithmName;
  /** How long a resolver may hold an answer signed by a retired key: the zone's largest TTL, at least the DNSKEY TTL. */
  retireWaitS: number;
}

/**
 * The key set of each signed zone, made on first use and shared through the `dns-keys` bucket. Every
 * replica asks the bucket first; the one that finds nothing creates the entry with KV create (fails
 * when it exists), so two replicas racing end with the winner's key, which the loser then reads. A
 * watch on the bucket brings every later change (a rollover step taken on any replica) to every
 * replica; a step is written with KV update at the revision it was decided on (compare-and-set).
 */
export class ZoneKeys {
  private readonly sets = new Map<string, ZoneKeySet>();
  private readonly wanted = new Map<string, Wanted>();
  private readonly loading = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cleanups = new Map<string, NodeJS.Timeout>();
  private kv: Promise<{ kv: KV; kvKey: Buffer }> | undefined;
  private watching = false;
  private stopWatch: (() => void) | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: ZoneKeysOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key set of every signed zone that has one by now; the missing ones are fetched (changed() after). */
  keysFor(zones: ZoneSet): Map<string, ZoneKeySet> {
    const out = new Map<string, ZoneKeySet>();
    for (const zone of zones.zones) {
      if (!zone.dnssec) continue;
      const name = entryName(zone.origin, zone.dnssec.algorithm);
      let largest = DNSKEY_TTL;
      for (const rr of zone.records()) largest = Math.max(largest, rr.ttl);
      this.wanted.set(name, { origin: zone.origin, algorithm: zone.dnssec.algorithm, retireWaitS: largest });
      const set = this.sets.get(name);
      if (set) out.set(zone.origin, set);
      else if (!this.shared) {
        this.options.logger.warn(
          { zone: zone.origin },
          "dnssec: no NATS (or KV key file): this replica signs with a key of its own, not shared",
        );
        const made = ZoneKeySet.single(ZoneKey.generate(zone.origin, zone.dnssec.algorithm));
        this.sets.set(name, made);
        out.set(zone.origin, made);
      } else this.fetch(name);
    }
    return out;
  }

  private get shared(): boolean {
    return Boolean(this.options.nats && this.options.kvKeyFile);
  }

  /** How long `finish` waits after `start` (the DNSKEY TTL) and `cleanup` after `finish`, in seconds. */
  waits(origin: string, algorithm: AlgorithmName): { finishS: number; cleanupS: number } {
    const wanted = this.wanted.get(entryName(origin, algorithm));
    return { finishS: DNSKEY_TTL, cleanupS: wanted?.retireWaitS ?? DNSKEY_TTL };
  }

  private bucket(): Promise<{ kv: KV; kvKey: Buffer }> {
    this.kv ??= (async () => {
      const nc = await this.options.nats?.connection();
      if (!nc) throw new Error("no NATS connection");
      const kvKey = await ensureKvKey(this.options.kvKeyFile as string);
      const kv = await openKv(nc, NATS_BUCKETS.dnsKeys, { history: 1 });
      return { kv, kvKey };
    })().catch((err: unknown) => {
      this.kv = undefined;
      throw err;
    });
    return this.kv;
  }

  private fetch(name: string): void {
    if (this.loading.has(name) || this.stopped) return;
    const wanted = this.wanted.get(name) as Wanted;
    this.loading.add(name);
    this.load(name, wanted).then(
      (set) => {
        this.loading.delete(name);
        if (this.stopped) return;
        this.apply(name, set);
        this.watch();
      },
      (err: unknown) => {
        this.loading.delete(name);
        if (this.stopped) return;
        this.options.logger.error(
          { err, zone: wanted.origin },
          "dnssec: cannot get the zone's key; retrying",
        );
        this.later(() => this.fetch(name), RETRY_MS);
      },
    );
  }

  private async load(name: string, { origin, algorithm }: Wanted): Promise<ZoneKeySet> {
    const { kv, kvKey } = await this.bucket();
    const found = await read(kv, name, origin, kvKey);
    if (found) return found;
    const made = ZoneKey.generate(origin, algorithm);
    try {
      const revision = await kv.create(name, JSON.stringify(storeNewKeySet(made, name, kvKey, this.now())));
      this.options.logger.info({ zone: origin, algorithm, keyTag: made.keyTag }, "dnssec key created");
      return new ZoneKeySet(origin, algorithm, ZoneKeySet.single(made).entries, revision);
    } catch (err) {
      // Another replica created it first: its key is the zone's.
      const theirs = await read(kv, name, origin, kvKey);
      if (theirs) return theirs;
      throw err;
    }
  }

  /** Takes a key set newer than the one held; true when it was. */
  private apply(name: string, set: ZoneKeySet): boolean {
    const held = this.sets.get(name);
    if (held && held.revision >= set.revision) return false;
    this.sets.set(name, set);
    const fields = {
      zone: set.origin,
      algorithm: set.algorithmName,
      revision: set.revision,
      keys: tags(set),
    };
    if (held) this.options.logger.info(fields, "dnssec key set changed");
    else this.options.logger.info({ ...fields, keyTag: set.active.keyTag }, "dnssec key ready");
    this.scheduleCleanup(name, set);
    this.options.changed();
    return true;
  }

  /** The watch of the whole bucket, started once the first key is loaded; started again when it ends. */
  private watch(): void {
    if (this.watching || this.stopped) return;
    this.watching = true;
    void this.rewatchOnReconnect();
    const loop = async () => {
      while (!this.stopped) {
        try {
          const { kv, kvKey } = await this.bucket();
          const iter = await kv.watch({ key: ">" });
          this.stopWatch = () => iter.stop();
          if (this.stopped) iter.stop();
          for await (const e of iter) {
            const wanted = this.wanted.get(e.key);
            if (!wanted) continue;
            if (e.operation !== "PUT" || e.value.length === 0) {
              this.options.logger.warn(
                { zone: wanted.origin, key: e.key, operation: e.operation },
                "dnssec: key entry removed from KV; signing with the keys held",
              );
              continue;
            }
            try {
              const set = openKeySet(parseStoredKeySet(e.json()), wanted.origin, e.key, kvKey, e.revision);
              this.apply(e.key, set);
            } catch (err) {
              this.options.logger.error(
                { err, key: e.key },
                "dnssec: cannot read a key entry; kept the keys held",
              );
            }
          }
        } catch (err) {
          if (!this.stopped) this.options.logger.warn({ err }, "dnssec: dns-keys watch failed; retrying");
        }
        if (!this.stopped) await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    };
    void loop();
  }

  /**
   * After a reconnect the server may be another one, or the same one restarted: watch again from a
   * fresh snapshot (newer revisions apply, as ever) rather than trust a consumer that may be gone.
   */
  private async rewatchOnReconnect(): Promise<void> {
    const nc = await this.options.nats?.connection();
    if (!nc) return;
    for await (const event of nc.status()) {
      if (this.stopped) return;
      if (event.type === "reconnect") this.stopWatch?.();
    }
  }

  /**
   * Every replica removes a retired key when it is due; KV update lets one write, the others see it.
   * The clock is looked at again at least every `cleanupCheckMs` (a timer set for hours is not
   * trusted across clock steps), and each replica adds up to 2 s so one usually writes alone.
   */
  private scheduleCleanup(name: string, set: ZoneKeySet): void {
    clearTimeout(this.cleanups.get(name));
    this.cleanups.delete(name);
    const wanted = this.wanted.get(name);
    if (!wanted || !this.shared || this.stopped) return;
    const due = cleanupDue(set.entries, wanted.retireWaitS);
    if (due === undefined) return;
    const left = due - this.now();
    const check = this.options.cleanupCheckMs ?? 60_000;
    const timer = setTimeout(
      () => {
        this.cleanups.delete(name);
        if (this.sets.get(name) !== set) return;
        if (this.now() < due) return this.scheduleCleanup(name, set);
        this.step(wanted.origin, wanted.algorithm, "cleanup", false).then(
          () =>
            this.options.logger.info({ zone: wanted.origin }, "dnssec: retired key removed (rollover done)"),
          (err: unknown) => {
            // Another replica removed it first (conflict, nothing to clean): its write comes by the watch.
            // A record with a longer TTL arrived meanwhile: due later, looked at again then.
            if (err instanceof RolloverError && err.kind === "too-early" && this.sets.get(name) === set)
              return this.scheduleCleanup(name, set);
            if (err instanceof RolloverError) return;
            this.options.logger.warn(
              { err, zone: wanted.origin },
              "dnssec: automatic cleanup failed; retrying",
            );
            this.later(() => {
              if (this.sets.get(name) === set) this.scheduleCleanup(name, set);
            }, 30_000);
          },
        );
      },
      left > check ? check : Math.max(0, left) + Math.floor(Math.random() * 2000),
    );
    this.cleanups.set(name, timer);
  }

  /** The key set of a zone as this replica holds it (undefined: not loaded yet). */
  keySet(origin: string, algorithm: AlgorithmName): ZoneKeySet | undefined {
    return this.sets.get(entryName(origin, algorithm));
  }

  /**
   * One rollover step, decided on the entry as KV has it now and written at that revision; applied
   * here before it returns (the other replicas through their watch). RolloverError when refused.
   */
  async step(
    origin: string,
    algorithm: AlgorithmName,
    step: RolloverStep,
    force: boolean,
  ): Promise<ZoneKeySet> {
    if (!this.shared)
      throw new RolloverError(
        "unavailable",
        "key rollover needs NATS KV and a KV key file (keys shared by replicas)",
      );
    const name = entryName(origin, algorithm);
    const { kv, kvKey } = await this.bucket();
    const entry = await kv.get(name);
    if (entry?.operation !== "PUT" || entry.value.length === 0)
      throw new RolloverError("conflict", `zone ${origin}: its key is not in KV yet; retry`);
    const stored = parseStoredKeySet(entry.json());
    const now = this.now();
    const { finishS, cleanupS } = this.waits(origin, algorithm);
    let keys: StoredKeySet["keys"];
    if (step === "start")
      keys = startRollover(
        origin,
        stored.keys,
        storeKey(ZoneKey.generate(origin, algorithm), name, kvKey, now, "published"),
        now,
      );
    else if (step === "finish") keys = finishRollover(origin, stored.keys, now, finishS, force);
    else keys = cleanupRollover(origin, stored.keys, now, cleanupS, force);
    const next: StoredKeySet = { version: 2, algorithm: stored.algorithm, keys };
    let revision: number;
    try {
      revision = await kv.update(name, JSON.stringify(next), entry.revision);
    } catch (err) {
      throw new RolloverError(
        "conflict",
        `zone ${origin}: the key set changed meanwhile (another rollover step, on another replica?); check \`rollover status ${origin}\` and retry (${(err as Error).message})`,
      );
    }
    const set = openKeySet(next, origin, name, kvKey, revision);
    this.apply(name, set);
    this.options.logger.info(
      { zone: origin, step, force, revision, keys: tags(set) },
      "dnssec rollover step",
    );
    return this.sets.get(name) ?? set;
  }

  private later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    for (const t of this.timers) clearTimeout(t);
    for (const t of this.cleanups.values()) clearTimeout(t);
    this.timers.clear();
    this.cleanups.clear();
  }
}

function tags(set: ZoneKeySet): string[] {
  return set.entries.map((e) => `${e.key.keyTag}:${e.state}`);
}

async function read(kv: KV, name: string, origin: string, kvKey: Buffer): Promise<ZoneKeySet | undefined> {
  const entry = await kv.get(name);
  if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
  return openKeySet(parseStoredKeySet(entry.json()), origin, name, kvKey, entry.revision);
}

/** The KV key of a zone's key set: `<algorithm>.<origin>` (KV keys allow `[-/_=.a-zA-Z0-9]`). */
export function entryName(origin: string, algorithm: AlgorithmName): string {
  const safe = origin.replace(/[^a-z0-9.-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `${algorithm}.${safe === "" ? "_root" : safe}`;
}
