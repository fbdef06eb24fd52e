import type { ZoneConfig } from "@switchyard/config";
import { ZoneError } from "../errors.js";
import { isAtOrBelow, parentOf } from "../wire/names.js";
import type { RData, ResourceRecord, RRTypeName, SoaData } from "../wire/records.js";

export type RRset = ResourceRecord[];

/**
 * One authoritative zone: its records by owner name and type, the names that exist (with empty
 * non-terminals), and its delegation points. Immutable once built.
 */
export class Zone {
  readonly nodes = new Map<string, Map<RRTypeName, RRset>>();
  /** Every name that exists in the zone: owners and empty non-terminals (RFC 4592 2.2.2). */
  readonly existing = new Set<string>();
  /** Names below the apex with NS records: zone cuts. */
  readonly cuts = new Set<string>();
  readonly soa: ResourceRecord & { data: { type: "SOA" } & SoaData };

  constructor(
    readonly origin: string,
    records: readonly ResourceRecord[],
    /** Signed online with this algorithm (config `dnssec`), or not signed. */
    readonly dnssec?: ZoneConfig["dnssec"],
  ) {
    for (const rr of records) {
      if (!isAtOrBelow(rr.name, origin))
        throw new ZoneError(origin, `${rr.name} ${rr.data.type} is outside the zone`);
      let node = this.nodes.get(rr.name);
      if (!node) {
        node = new Map();
        this.nodes.set(rr.name, node);
      }
      const set = node.get(rr.data.type);
      if (!set) node.set(rr.data.type, [rr]);
      else if (!set.some((o) => sameData(o.data, rr.data))) set.push(rr);
    }
    for (const [name, node] of this.nodes) {
      if (node.has("CNAME") && node.size > 1)
        throw new ZoneError(origin, `${name} has a CNAME and other records`);
      if ((node.get("CNAME")?.length ?? 0) > 1)
        throw new ZoneError(origin, `${name} has more than one CNAME`);
      if (node.has("NS") && name !== origin) this.cuts.add(name);
      for (let n = name; ; n = parentOf(n)) {
        if (this.existing.has(n)) break;
        this.existing.add(n);
        if (n === origin || n === "") break;
      }
      // RFC 2181 5.2: one TTL per RRset; use the lowest, as servers do.
      for (const set of node.values()) {
        const ttl = Math.min(...set.map((r) => r.ttl));
        for (const r of set) r.ttl = ttl;
      }
    }
    const soas = this.nodes.get(origin)?.get("SOA") ?? [];
    if (soas.length !== 1)
      throw new ZoneError(origin, soas.length ? "more than one SOA" : "no SOA at the apex");
    for (const [name, node] of this.nodes) {
      if (name !== origin && node.has("SOA")) throw new ZoneError(origin, `SOA at ${name}, not at the apex`);
    }
    this.soa = soas[0] as Zone["soa"];
  }

  rrset(name: string, type: RRTypeName): RRset | undefined {
    return this.nodes.get(name)?.get(type);
  }

  /** The negative-answer SOA: its TTL is min(SOA TTL, SOA minimum) (RFC 2308 3). */
  negativeSoa(): ResourceRecord {
    return { ...this.soa, ttl: Math.min(this.soa.ttl, this.soa.data.minimum) };
  }

  get recordCount(): number {
    let n = 0;
    for (const node of this.nodes.values()) for (const set of node.values()) n += set.length;
    return n;
  }

  *records(): Generator<ResourceRecord> {
    for (const node of this.nodes.values()) for (const set of node.values()) yield* set;
  }
}

function sameData(a: RData, b: RData): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
