import type { Logger } from "@switchyard/runtime";
import { type Observer, Responder } from "../answer/responder.js";
import { publishKeys } from "../dnssec/publish-keys.js";
import type { ZoneKeySet } from "../dnssec/zone-key-set.js";
import type { ZoneKeys } from "../dnssec/zone-keys.js";
import type { RData, ResourceRecord } from "../wire/records.js";
import {
  type Bucket,
  DynamicRecords,
  type Overlay,
  type RecordSource,
  type WatchedEntry,
} from "./dynamic-records.js";
import type { ZoneSet } from "./zone-set.js";

/** Dynamic changes arriving within this window are applied together. */
const COALESCE_MS = 10;

/**
 * What a replica answers from: the static zones (config and zone files) with the dynamic records
 * of the KV watches laid over them, and the responder built from both. A change re-encodes only
 * the zones whose content (or serial) changed.
 */
export class ServedZones {
  responder: Responder;
  private overlay: Overlay;
  private readonly dynamic = new DynamicRecords();
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => boolean>();
  private readonly reported = new Set<string>();

  /** The key sets the responder was built with (origin → key set). */
  keys: ReadonlyMap<string, ZoneKeySet> = new Map();

  constructor(
    private statics: ZoneSet,
    private readonly observe: Observer,
    private readonly logger: Logger,
    private readonly zoneKeys?: ZoneKeys,
  ) {
    this.overlay = this.dynamic.overlay(statics);
    this.responder = this.build();
  }

  /** A responder for the overlay's zones, signed zones with their keys (re-encodes everything). */
  private build(reuse?: { from: Responder; unchanged: ReadonlySet<string> }): Responder {
    this.keys = this.zoneKeys?.keysFor(this.overlay.zones) ?? new Map();
    return new Responder(publishKeys(this.overlay.zones, this.keys), this.observe, reuse, this.keys);
  }

  /**
   * A zone's key set arrived or changed (ZoneKeys changed): every zone re-encoded with the keys
   * there are now, in a new responder: the signed answers cached by the old one are dropped.
   */
  rekey(): void {
    this.responder = this.build();
    this.settle();
  }

  get zones(): ZoneSet {
    return this.responder.zones;
  }

  sourceOf(rr: ResourceRecord): RecordSource {
    return this.overlay.sources.get(rr) ?? "config";
  }

  /** New static zones (a reload): everything is re-encoded, the dynamic records laid over again. */
  setStatic(statics: ZoneSet): void {
    this.statics = statics;
    this.overlay = this.dynamic.overlay(statics);
    this.responder = this.build();
    this.settle();
  }

  /** Entries from a KV watch; applied after a short coalescing window. */
  onEntries(bucket: Bucket, entries: WatchedEntry[], snapshot: boolean): void {
    if (snapshot) this.dynamic.clear(bucket);
    for (const e of entries) {
      const problem = this.dynamic.apply(bucket, e);
      if (problem)
        this.logger.warn({ bucket, key: e.key, revision: e.revision, problem }, "kv entry not served");
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.rebuild();
    }, COALESCE_MS);
  }

  private rebuild(): void {
    const started = performance.now();
    const next = this.dynamic.overlay(this.statics, this.overlay);
    const unchanged = new Set<string>();
    const changed: string[] = [];
    for (const [origin, fp] of next.fingerprints) {
      if (this.overlay.fingerprints.get(origin) === fp) unchanged.add(origin);
      else changed.push(origin);
    }
    this.overlay = next;
    if (changed.length > 0) {
      this.responder = this.build({ from: this.responder, unchanged });
      this.logger.info(
        {
          zones: changed.map((o) => ({ origin: o, serial: next.zones.get(o)?.soa.data.serial })),
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        "dynamic records applied",
      );
    }
    for (const s of next.skipped) {
      const line = `${s.key} ${s.reason}`;
      if (this.reported.has(line)) continue;
      this.reported.add(line);
      this.logger.warn({ key: s.key, reason: s.reason }, "dynamic record not served");
    }
    this.settle();
  }

  private settle(): void {
    for (const check of this.waiters) if (check()) this.waiters.delete(check);
  }

  /** Resolves true once `done()` holds after a rebuild, false after `timeoutMs`. */
  waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (!this.timer && done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      const check = () => {
        if (!done()) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      this.waiters.add(check);
    });
  }

  appliedRevision(bucket: Bucket): number {
    return this.dynamic.revision(bucket);
  }

  /** Keys of live API records of (name, type), optionally one value. */
  findRecords(name: string, type: string, matches?: (data: RData) => boolean): string[] {
    return this.dynamic.findRecords(name, type, matches);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
