import { decrypt, encrypt, ensureKvKey } from "@switchyard/certstore";
import { type KV, type Logger, NATS_BUCKETS, openKv } from "@switchyard/runtime";
import type { NatsLink } from "../nats-link.js";
import type { ZoneSet } from "../zones/zone-set.js";
import { type AlgorithmName, ZoneKey } from "./zone-key.js";

const RETRY_MS = 2000;

export interface ZoneKeysOptions {
  /** Keys are shared through the `dns-keys` bucket; without NATS each replica makes its own (logged). */
  nats: NatsLink | undefined;
  /** The 32-byte key file that seals private keys in KV (SWITCHYARD_KV_KEY_FILE, as for certificates). */
  kvKeyFile: string | undefined;
  logger: Logger;
  /** A key became available: the zones are re-encoded with it. */
  changed: () => void;
}

interface StoredKey {
  algorithm: AlgorithmName;
  created: string;
  /** PKCS#8 DER, sealed with the KV key, the entry's name as context. */
  key: string;
}

/**
 * The signing key of each signed zone, made on first use. Every replica asks the `dns-keys` bucket
 * first; the one that finds none creates it with KV create (fails when the entry exists), so two
 * replicas racing end with the one key the winner wrote, which the loser then reads.
 */
export class ZoneKeys {
  private readonly keys = new Map<string, ZoneKey>();
  private readonly loading = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: ZoneKeysOptions) {}

  /** The key of every signed zone that has one by now; the missing ones are fetched (changed() after). */
  keysFor(zones: ZoneSet): Map<string, ZoneKey> {
    const out = new Map<string, ZoneKey>();
    for (const zone of zones.zones) {
      if (!zone.dnssec) continue;
      const name = entryName(zone.origin, zone.dnssec.algorithm);
      const key = this.keys.get(name);
      if (key) out.set(zone.origin, key);
      else if (!this.options.nats || !this.options.kvKeyFile) {
        this.options.logger.warn(
          { zone: zone.origin },
          "dnssec: no NATS (or KV key file): this replica signs with a key of its own, not shared",
        );
        const made = ZoneKey.generate(zone.origin, zone.dnssec.algorithm);
        this.keys.set(name, made);
        out.set(zone.origin, made);
      } else this.fetch(name, zone.origin, zone.dnssec.algorithm);
    }
    return out;
  }

  private fetch(name: string, origin: string, algorithm: AlgorithmName): void {
    if (this.loading.has(name) || this.stopped) return;
    this.loading.add(name);
    this.load(name, origin, algorithm).then(
      (key) => {
        this.loading.delete(name);
        if (this.stopped) return;
        this.keys.set(name, key);
        this.options.logger.info({ zone: origin, algorithm, keyTag: key.keyTag }, "dnssec key ready");
        this.options.changed();
      },
      (err: unknown) => {
        this.loading.delete(name);
        if (this.stopped) return;
        this.options.logger.error({ err, zone: origin }, "dnssec: cannot get the zone's key; retrying");
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.fetch(name, origin, algorithm);
        }, RETRY_MS);
        this.timers.add(timer);
      },
    );
  }

  private async load(name: string, origin: string, algorithm: AlgorithmName): Promise<ZoneKey> {
    const nc = await this.options.nats?.connection();
    if (!nc) throw new Error("no NATS connection");
    const kvKey = await ensureKvKey(this.options.kvKeyFile as string);
    const kv = await openKv(nc, NATS_BUCKETS.dnsKeys, { history: 1 });
    const found = await read(kv, name, origin, algorithm, kvKey);
    if (found) return found;
    const made = ZoneKey.generate(origin, algorithm);
    const stored: StoredKey = {
      algorithm,
      created: new Date().toISOString(),
      key: encrypt(made.exportPkcs8(), kvKey, name),
    };
    try {
      await kv.create(name, JSON.stringify(stored));
      this.options.logger.info({ zone: origin, algorithm, keyTag: made.keyTag }, "dnssec key created");
      return made;
    } catch (err) {
      // Another replica created it first: its key is the zone's.
      const theirs = await read(kv, name, origin, algorithm, kvKey);
      if (theirs) return theirs;
      throw err;
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

async function read(kv: KV, name: string, origin: string, algorithm: AlgorithmName, kvKey: Buffer) {
  const entry = await kv.get(name);
  if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
  const stored = entry.json<StoredKey>();
  return ZoneKey.fromPkcs8(origin, algorithm, decrypt(stored.key, kvKey, name));
}

/** The KV key of a zone's key: `<algorithm>.<origin>` (KV keys allow `[-/_=.a-zA-Z0-9]`). */
export function entryName(origin: string, algorithm: AlgorithmName): string {
  const safe = origin.replace(/[^a-z0-9.-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `${algorithm}.${safe === "" ? "_root" : safe}`;
}
