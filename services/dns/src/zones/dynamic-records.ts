import { DynamicRecordError, ZoneError } from "../errors.js";
import type { RData, ResourceRecord } from "../wire/records.js";
import { parseAcmeValue, parseStoredRecord, type StoredRecord, zoneOfKey } from "./record-codec.js";
import { Zone } from "./zone.js";
import { ZoneSet } from "./zone-set.js";

export type Bucket = "acme" | "records";
export type RecordSource = "config" | "api" | "acme";

/** One KV entry as the watch delivers it (the fields we use). */
export interface WatchedEntry {
  key: string;
  revision: number;
  operation: "PUT" | "DEL" | "PURGE";
  value: Uint8Array;
}

interface Entry {
  key: string;
  revision: number;
  bucket: Bucket;
  /** Undefined for a delete marker, or a value that cannot be served. */
  record: ResourceRecord | undefined;
}

/** The served zones: static zones with the dynamic records laid over them. */
export interface Overlay {
  zones: ZoneSet;
  /** Per origin: serial and dynamic entries; equal fingerprints mean equal zones. */
  fingerprints: Map<string, string>;
  sources: WeakMap<ResourceRecord, RecordSource>;
  /** Entries not served, with why (a CNAME beside other data, a name in no served zone, ...). */
  skipped: { key: string; reason: string }[];
}

/**
 * The dynamic records a replica knows from its KV watches, and how they change the zones. Every
 * replica that applied the same entries builds the same zones, SOA serials included: the serial is
 * the static serial plus, per bucket, the highest revision that touched the zone. A delete leaves a
 * marker with a new revision; `dns-records` keys name their zone, `acme` keys do not, so an ACME
 * delete counts for every zone.
 */
export class DynamicRecords {
  private readonly entries: Record<Bucket, Map<string, Entry>> = { acme: new Map(), records: new Map() };

  /** Applies one watched entry. Returns why its value is not served, if it is not. */
  apply(bucket: Bucket, e: WatchedEntry): string | undefined {
    let record: ResourceRecord | undefined;
    let problem: string | undefined;
    if (e.operation === "PUT") {
      try {
        record =
          bucket === "acme"
            ? parseAcmeValue(e.value)
            : parseStoredRecord(JSON.parse(Buffer.from(e.value).toString("utf8")) as StoredRecord);
      } catch (err) {
        if (!(err instanceof DynamicRecordError || err instanceof SyntaxError)) throw err;
        problem = err.message;
      }
    }
    this.entries[bucket].set(e.key, { key: e.key, revision: e.revision, bucket, record });
    return problem;
  }

  /** Forgets a bucket's entries (before a fresh snapshot replaces them). */
  clear(bucket: Bucket): void {
    this.entries[bucket].clear();
  }

  /** The highest revision applied from a bucket. */
  revision(bucket: Bucket): number {
    let max = 0;
    for (const e of this.entries[bucket].values()) max = Math.max(max, e.revision);
    return max;
  }

  /** Live `dns-records` entries of (name, type), and of one value when given. */
  findRecords(name: string, type: string, matches?: (data: RData) => boolean): string[] {
    const keys: string[] = [];
    for (const e of this.entries.records.values()) {
      const rr = e.record;
      if (rr && rr.name === name && rr.data.type === type && (!matches || matches(rr.data))) keys.push(e.key);
    }
    return keys;
  }

  overlay(statics: ZoneSet, previous?: Overlay): Overlay {
    const skipped: Overlay["skipped"] = [];
    const perZone = new Map<string, { acme: number; records: number; adds: Entry[] }>();
    const slot = (origin: string) => {
      let s = perZone.get(origin);
      if (!s) {
        s = { acme: 0, records: 0, adds: [] };
        perZone.set(origin, s);
      }
      return s;
    };
    let acmeDeletes = 0;
    for (const e of this.entries.acme.values()) {
      if (!e.record) {
        acmeDeletes = Math.max(acmeDeletes, e.revision);
        continue;
      }
      const zone = statics.find(e.record.name);
      if (!zone) {
        skipped.push({ key: e.key, reason: `${e.record.name} is in no served zone` });
        continue;
      }
      const s = slot(zone.origin);
      s.acme = Math.max(s.acme, e.revision);
      s.adds.push(e);
    }
    for (const e of this.entries.records.values()) {
      const named = zoneOfKey(e.key);
      if (named !== undefined && statics.get(named)) {
        const s = slot(named);
        s.records = Math.max(s.records, e.revision);
      }
      if (!e.record) continue;
      const zone = statics.find(e.record.name);
      if (!zone) {
        skipped.push({ key: e.key, reason: `${e.record.name} is in no served zone` });
        continue;
      }
      const s = slot(zone.origin);
      s.records = Math.max(s.records, e.revision);
      s.adds.push(e);
    }

    const zones: Zone[] = [];
    const fingerprints = new Map<string, string>();
    const sources = new WeakMap<ResourceRecord, RecordSource>();
    for (const zone of statics.zones) {
      const s = perZone.get(zone.origin);
      const bump = Math.max(s?.acme ?? 0, acmeDeletes) + (s?.records ?? 0);
      const adds = (s?.adds ?? []).sort(
        (a, b) => a.bucket.localeCompare(b.bucket) || a.revision - b.revision,
      );
      const fingerprint =
        bump === 0 && adds.length === 0
          ? ""
          : `${bump} ${adds.map((a) => `${a.key}@${a.revision}`).join(" ")}`;
      fingerprints.set(zone.origin, fingerprint);
      const before = previous?.zones.get(zone.origin);
      if (before && previous?.fingerprints.get(zone.origin) === fingerprint) {
        zones.push(before);
        for (const rr of before.records()) sources.set(rr, previous.sources.get(rr) ?? "config");
        continue;
      }
      if (fingerprint === "") {
        zones.push(zone);
        continue;
      }
      zones.push(build(zone, bump, adds, sources, skipped));
    }
    return { zones: new ZoneSet(zones), fingerprints, sources, skipped };
  }
}

/** The static zone with its serial bumped and the dynamic records that fit added. */
function build(
  zone: Zone,
  bump: number,
  adds: Entry[],
  sources: WeakMap<ResourceRecord, RecordSource>,
  skipped: Overlay["skipped"],
): Zone {
  const records: ResourceRecord[] = [];
  const types = new Map<string, Map<string, RData>>();
  const note = (rr: ResourceRecord) => {
    let t = types.get(rr.name);
    if (!t) {
      t = new Map();
      types.set(rr.name, t);
    }
    t.set(rr.data.type, rr.data);
  };
  for (const rr of zone.records()) {
    const copy =
      rr.data.type === "SOA"
        ? { ...rr, data: { ...rr.data, serial: (rr.data.serial + bump) % 2 ** 32 } }
        : { ...rr };
    records.push(copy);
    note(copy);
  }
  for (const e of adds) {
    const rr = { ...(e.record as ResourceRecord) };
    const existing = types.get(rr.name);
    const cname = existing?.get("CNAME");
    const conflict =
      rr.data.type === "CNAME"
        ? existing !== undefined && (existing.size > 1 || (cname ? !sameData(cname, rr.data) : true))
        : cname !== undefined;
    if (conflict) {
      skipped.push({
        key: e.key,
        reason: `${rr.name} ${rr.data.type} conflicts with a CNAME rule (RFC 2181 10.1)`,
      });
      continue;
    }
    records.push(rr);
    note(rr);
    sources.set(rr, e.bucket === "acme" ? "acme" : "api");
  }
  try {
    return new Zone(zone.origin, records, zone.dnssec);
  } catch (err) {
    if (!(err instanceof ZoneError)) throw err;
    skipped.push({
      key: "*",
      reason: `zone ${zone.origin} served without its dynamic records: ${err.message}`,
    });
    return zone;
  }
}

function sameData(a: RData, b: RData): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
