import { decrypt, encrypt } from "@switchyard/certstore";
import type { ResourceRecord } from "../wire/records.js";
import type { KeyState, KeyStateEntry } from "./key-states.js";
import { type AlgorithmName, ZoneKey } from "./zone-key.js";

/** One key of a zone as stored in its `dns-keys` entry. */
export interface StoredKey extends KeyStateEntry {
  /** PKCS#8 DER, sealed with the KV key, the entry's name as context. */
  key: string;
  keyTag: number;
  created: string;
}

/** A `dns-keys` entry (`<algorithm>.<origin>`): every key of the zone, with its rollover state. */
export interface StoredKeySet {
  version: 2;
  algorithm: AlgorithmName;
  keys: StoredKey[];
}

/** The entry before rollover existed: one key, which is the active one. */
interface StoredKeyV1 {
  algorithm: AlgorithmName;
  created: string;
  key: string;
}

export interface KeyEntry extends KeyStateEntry {
  key: ZoneKey;
  created: string;
}

/**
 * A signed zone's keys as every replica reads them from KV: the active key signs answers; every key
 * (active, published, retired) is in the DNSKEY RRset and signs it, so a resolver whose DS points at
 * any of them validates; CDS/CDNSKEY describe the incoming key during a rollover, else the active.
 */
export class ZoneKeySet {
  readonly active: ZoneKey;

  constructor(
    readonly origin: string,
    readonly algorithmName: AlgorithmName,
    readonly entries: readonly KeyEntry[],
    /** The KV revision it was read from (0: not from KV). */
    readonly revision = 0,
  ) {
    const active = entries.find((e) => e.state === "active");
    if (!active) throw new Error(`zone ${origin}: no active key in its key set`);
    this.active = active.key;
  }

  /** One active key, nothing else (the zone's first key, or a replica without NATS). */
  static single(key: ZoneKey, created = new Date().toISOString()): ZoneKeySet {
    return new ZoneKeySet(key.origin, key.algorithmName, [{ key, created, state: "active", since: created }]);
  }

  /** Every key in the DNSKEY RRset. */
  get published(): ZoneKey[] {
    return this.entries.map((e) => e.key);
  }

  /** The key the parent's DS should point at: the incoming one during a rollover (CDS, `dns ds`). */
  get successor(): ZoneKey {
    return this.entries.find((e) => e.state === "published")?.key ?? this.active;
  }

  /** What the apex publishes: the DNSKEY of every key, CDS/CDNSKEY of the successor (RFC 8078). */
  apexRecords(ttl: number): ResourceRecord[] {
    const next = this.successor;
    return [
      ...this.published.map((k): ResourceRecord => ({ name: this.origin, ttl, data: k.dnskey })),
      { name: this.origin, ttl, data: { ...next.ds(), type: "CDS" } },
      { name: this.origin, ttl, data: { ...next.dnskey, type: "CDNSKEY" } },
    ];
  }
}

/** A new stored entry with one active key. */
export function storeNewKeySet(key: ZoneKey, name: string, kvKey: Buffer, now: number): StoredKeySet {
  return { version: 2, algorithm: key.algorithmName, keys: [storeKey(key, name, kvKey, now, "active")] };
}

export function storeKey(key: ZoneKey, name: string, kvKey: Buffer, now: number, state: KeyState): StoredKey {
  const at = new Date(now).toISOString();
  return { key: encrypt(key.exportPkcs8(), kvKey, name), keyTag: key.keyTag, created: at, state, since: at };
}

/** An entry as written, the version-1 form (one key) read as one active key. */
export function parseStoredKeySet(json: unknown): StoredKeySet {
  const value = json as Partial<StoredKeySet> & Partial<StoredKeyV1>;
  if (value.version === 2 && Array.isArray(value.keys)) return value as StoredKeySet;
  if (typeof value.key === "string" && typeof value.created === "string" && value.algorithm)
    return {
      version: 2,
      algorithm: value.algorithm,
      keys: [{ key: value.key, keyTag: -1, created: value.created, state: "active", since: value.created }],
    };
  throw new Error("not a dns-keys entry");
}

/** The keys of a stored entry, unsealed. */
export function openKeySet(
  stored: StoredKeySet,
  origin: string,
  name: string,
  kvKey: Buffer,
  revision: number,
): ZoneKeySet {
  return new ZoneKeySet(
    origin,
    stored.algorithm,
    stored.keys.map((k) => ({
      key: ZoneKey.fromPkcs8(origin, stored.algorithm, decrypt(k.key, kvKey, name)),
      created: k.created,
      state: k.state,
      since: k.since,
    })),
    revision,
  );
}
