import { isAtOrBelow, parentOf, splitLabels } from "./names.js";
import { Rcode } from "./query-parser.js";
import type { ResourceRecord, RRTypeName } from "./records.js";
import type { Zone } from "./zone.js";
import type { ZoneSet } from "./zone-set.js";

/** The sections of an answer, before encoding. */
export interface Answer {
  rcode: number;
  authoritative: boolean;
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

const MAX_CHAIN = 8;

/**
 * Answers a question from the zones as an authoritative server does (RFC 1034 4.3.2, RFC 4592
 * wildcards, RFC 2308 negative answers, RFC 6604 rcode for CNAME chains).
 */
export function resolve(zones: ZoneSet, qname: string, qtype: RRTypeName | undefined): Answer {
  const zone = zones.find(qname);
  if (!zone) return { rcode: Rcode.REFUSED, authoritative: false, answer: [], authority: [], additional: [] };
  const result: Answer = {
    rcode: Rcode.NOERROR,
    authoritative: true,
    answer: [],
    authority: [],
    additional: [],
  };
  const seen = new Set<string>();
  let name = qname;
  for (let step = 0; step <= MAX_CHAIN; step++) {
    seen.add(name);
    const cut = findCut(zone, name);
    if (cut) {
      if (step === 0) {
        result.authoritative = false;
        const ns = zone.rrset(cut, "NS") ?? [];
        result.authority.push(...ns);
        addGlue(
          zone,
          ns.map((r) => (r.data.type === "NS" ? r.data.target : "")),
          result,
          cut,
        );
      }
      return result;
    }
    let node = zone.nodes.get(name);
    let owner = name;
    if (!node && !zone.existing.has(name)) {
      const wildcard = wildcardFor(zone, name);
      if (!wildcard) {
        result.rcode = Rcode.NXDOMAIN;
        result.authority.push(zone.negativeSoa());
        return result;
      }
      node = zone.nodes.get(wildcard);
      owner = name;
    }
    if (!node) {
      // An empty non-terminal: the name exists, with no data (RFC 4592 2.2.2).
      result.authority.push(zone.negativeSoa());
      return result;
    }
    const cname = node.get("CNAME");
    if (cname && qtype !== "CNAME") {
      const rr = withOwner(cname[0] as ResourceRecord, owner);
      result.answer.push(rr);
      const target = rr.data.type === "CNAME" ? rr.data.target : "";
      if (!isAtOrBelow(target, zone.origin) || seen.has(target)) return result;
      name = target;
      continue;
    }
    const set = qtype ? node.get(qtype) : undefined;
    if (!set) {
      result.authority.push(zone.negativeSoa());
      return result;
    }
    result.answer.push(...set.map((r) => withOwner(r, owner)));
    addAdditional(zone, set, result);
    return result;
  }
  return result;
}

function withOwner(rr: ResourceRecord, owner: string): ResourceRecord {
  return rr.name === owner ? rr : { ...rr, name: owner };
}

/** The highest zone cut at or above `name` (below the apex), if any. */
function findCut(zone: Zone, name: string): string | undefined {
  if (zone.cuts.size === 0) return undefined;
  const labels = splitLabels(name);
  const depth = splitLabels(zone.origin).length;
  for (let i = labels.length - depth - 1; i >= 0; i--) {
    const candidate = labels.slice(i).join(".");
    if (zone.cuts.has(candidate)) return candidate;
  }
  return undefined;
}

/** The source of synthesis `*.<closest encloser>` for a name that does not exist, if it exists. */
function wildcardFor(zone: Zone, name: string): string | undefined {
  let encloser = parentOf(name);
  while (!zone.existing.has(encloser)) {
    if (encloser === zone.origin || encloser === "") return undefined;
    encloser = parentOf(encloser);
  }
  const source = encloser === "" ? "*" : `*.${encloser}`;
  return zone.nodes.has(source) ? source : undefined;
}

function addAdditional(zone: Zone, set: ResourceRecord[], result: Answer): void {
  const targets: string[] = [];
  for (const rr of set) {
    const d = rr.data;
    if (d.type === "MX") targets.push(d.exchange);
    else if (d.type === "SRV") targets.push(d.target);
    else if (d.type === "NS") targets.push(d.target);
  }
  addGlue(zone, targets, result);
}

/** A/AAAA of in-zone targets; below a cut only for the cut's own glue. */
function addGlue(zone: Zone, targets: string[], result: Answer, cut?: string): void {
  const added = new Set<string>();
  for (const target of targets) {
    if (added.has(target) || !isAtOrBelow(target, zone.origin)) continue;
    const targetCut = findCut(zone, target);
    if (targetCut && targetCut !== cut) continue;
    added.add(target);
    result.additional.push(...(zone.rrset(target, "A") ?? []), ...(zone.rrset(target, "AAAA") ?? []));
  }
}
