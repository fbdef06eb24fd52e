import { type Answer, wildcardFor } from "../answer/resolver.js";
import { isAtOrBelow } from "../wire/names.js";
import { Rcode } from "../wire/query-parser.js";
import { type ResourceRecord, RRType } from "../wire/records.js";
import type { Zone } from "../zones/zone.js";
import type { ZoneSigner } from "./signatures.js";

/** The NXNAME meta-type of compact denial (RFC 9824 3.2): "this name does not exist". */
export const NXNAME = 128;

/** A signed answer and when its first signature must be renewed (ms since the epoch). */
export interface SignedAnswer {
  answer: Answer;
  renewAt: number;
}

/**
 * The DO=1 form of an authoritative answer: an RRSIG after every RRset the zone is authoritative
 * for, and authenticated denial with compact answers (RFC 9824): a name that does not exist is
 * answered NOERROR with one NSEC at the name, next `\000.<name>`, types RRSIG NSEC NXNAME; NODATA
 * with the NSEC listing the types the name has. A referral proves the absence of DS the same way.
 */
export function signAnswer(zone: Zone, answer: Answer, qname: string, signatures: ZoneSigner): SignedAnswer {
  let renewAt = Number.POSITIVE_INFINITY;
  const sign = (set: ResourceRecord[], into: ResourceRecord[]) => {
    into.push(...set);
    const made = signatures.sign(set);
    into.push(...made.rrsigs);
    renewAt = Math.min(renewAt, made.renewAt);
  };
  const cuts = [...zone.cuts];
  const belowCut = (name: string) => cuts.some((c) => isAtOrBelow(name, c));
  const out: Answer = { ...answer, answer: [], authority: [], additional: [] };

  for (const set of rrsets(answer.answer)) sign(set, out.answer);

  const referral = answer.authority.find((r) => r.data.type === "NS" && r.name !== zone.origin);
  const negative = answer.authority.some((r) => r.data.type === "SOA");
  if (referral) {
    // The delegation's NS are not the zone's to sign (RFC 4035 2.2); the missing DS is proven.
    out.authority.push(...answer.authority);
    sign([nsec(zone, referral.name, [RRType.NS, RRType.RRSIG, RRType.NSEC])], out.authority);
  } else if (negative) {
    for (const set of rrsets(answer.authority)) sign(set, out.authority);
    const last = answer.answer.at(-1);
    const denied = last?.data.type === "CNAME" ? last.data.target : qname;
    if (answer.rcode === Rcode.NXDOMAIN) {
      out.rcode = Rcode.NOERROR;
      sign([nsec(zone, denied, [RRType.RRSIG, RRType.NSEC, NXNAME])], out.authority);
    } else {
      sign([nsec(zone, denied, [...typesAt(zone, denied), RRType.RRSIG, RRType.NSEC])], out.authority);
    }
  } else {
    for (const set of rrsets(answer.authority)) sign(set, out.authority);
  }

  const glue: ResourceRecord[] = [];
  for (const set of rrsets(answer.additional)) {
    if (belowCut((set[0] as ResourceRecord).name)) glue.push(...set);
    else sign(set, out.additional);
  }
  out.additional.push(...glue);
  return { answer: out, renewAt };
}

/** The minimally covering NSEC of `name` (RFC 4470 "white lies" shape, RFC 9824 3): next is `\000.name`. */
function nsec(zone: Zone, name: string, types: number[]): ResourceRecord {
  const ttl = zone.negativeSoa().ttl;
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  return { name, ttl, data: { type: "NSEC", next: `\\000.${name}`, types: sorted } };
}

/** The types a name has, a wildcard's for a name it synthesizes, none for an empty non-terminal. */
function typesAt(zone: Zone, name: string): number[] {
  let node = zone.nodes.get(name);
  if (!node && !zone.existing.has(name)) {
    const source = wildcardFor(zone, name);
    node = source ? zone.nodes.get(source) : undefined;
  }
  return node ? [...node.keys()].map((t) => RRType[t]) : [];
}

/** Consecutive records of one owner and type, as the resolver adds them. */
function* rrsets(records: readonly ResourceRecord[]): Generator<ResourceRecord[]> {
  let set: ResourceRecord[] = [];
  for (const rr of records) {
    const first = set[0];
    if (first && (first.name !== rr.name || first.data.type !== rr.data.type)) {
      yield set;
      set = [];
    }
    set.push(rr);
  }
  if (set.length > 0) yield set;
}
