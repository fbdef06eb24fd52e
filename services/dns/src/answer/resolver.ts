import { isAtOrBelow, parentOf, splitLabels } from "../wire/names.js";
import { Rcode } from "../wire/query-parser.js";
import { type ResourceRecord, RRType, type RRTypeName } from "../wire/records.js";
import type { Zone } from "../zones/zone.js";
import type { ZoneSet } from "../zones/zone-set.js";

/** The sections of an answer, before encoding. */
export interface Answer {
  rcode: number;
  authoritative: boolean;
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  /** Owners in additional whose glue a referral cannot do without (RFC 9471): TC when they do not fit. */
  requiredGlue?: Set<string>;
  /** An Extended DNS Error code to send with EDNS (RFC 8914), e.g. 20 "Not Authoritative". */
  ede?: number;
  /**
   * The name rate limiting groups this answer under when it is not the question's: the zone for
   * NXDOMAIN, the wildcard for synthesized answers, the delegation for referrals.
   */
  groupName?: string;
  wildcard?: boolean;
}

export interface ResolveOptions {
  /** The question is DS: answered from the parent side of a zone cut (RFC 4035 3.1.4.1). */
  parentSide?: boolean;
  /** The question is ANY: one RRset of the name, the lowest type, as Knot answers (RFC 8482). */
  any?: boolean;
}

const MAX_CHAIN = 8;

/**
 * Answers a question from the zones as an authoritative server does (RFC 1034 4.3.2, RFC 4592
 * wildcards, RFC 2308 negative answers, RFC 6604 rcode for CNAME chains).
 */
export function resolve(
  zones: ZoneSet,
  qname: string,
  qtype: RRTypeName | undefined,
  options: ResolveOptions = {},
): Answer {
  const zone = zones.find(qname);
  if (!zone) return refused();
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
    const cut = findCut(zone, name, options.parentSide && name === qname ? name : undefined);
    if (cut) {
      // A referral; after a CNAME the answer so far stays authoritative (as Knot answers).
      if (step === 0) {
        result.authoritative = false;
        result.groupName = cut;
      }
      const ns = zone.rrset(cut, "NS") ?? [];
      result.authority.push(...ns);
      const targets = ns.map((r) => (r.data.type === "NS" ? r.data.target : ""));
      addGlue(zone, targets, result, cut);
      result.requiredGlue = new Set(targets.filter((t) => isAtOrBelow(t, cut)));
      return result;
    }
    let node = zone.nodes.get(name);
    let owner = name;
    if (!node && !zone.existing.has(name)) {
      const wildcard = wildcardFor(zone, name);
      if (!wildcard) {
        result.rcode = Rcode.NXDOMAIN;
        result.groupName ??= zone.origin;
        result.authority.push(zone.negativeSoa());
        return result;
      }
      node = zone.nodes.get(wildcard);
      owner = name;
      if (step === 0) {
        result.wildcard = true;
        result.groupName = wildcard;
      }
    }
    if (!node) {
      // An empty non-terminal: the name exists, with no data (RFC 4592 2.2.2).
      result.authority.push(zone.negativeSoa());
      return result;
    }
    if (options.any) {
      const set = lowestType(node);
      result.answer.push(...set.map((r) => withOwner(r, owner)));
      addAdditional(zone, set, result);
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

function lowestType(node: Map<RRTypeName, ResourceRecord[]>): ResourceRecord[] {
  let best: ResourceRecord[] = [];
  let code = Number.POSITIVE_INFINITY;
  for (const [type, set] of node) {
    if (RRType[type] < code) {
      code = RRType[type];
      best = set;
    }
  }
  return best;
}

function withOwner(rr: ResourceRecord, owner: string): ResourceRecord {
  return rr.name === owner ? rr : { ...rr, name: owner };
}

/** The REFUSED answer for a name in no served zone. */
export function refused(): Answer {
  return { rcode: Rcode.REFUSED, authoritative: false, answer: [], authority: [], additional: [], ede: 20 };
}

/** The highest zone cut at or above `name` (below the apex), if any; `skip` is not a cut (DS). */
function findCut(zone: Zone, name: string, skip?: string): string | undefined {
  if (zone.cuts.size === 0) return undefined;
  const labels = splitLabels(name);
  const depth = splitLabels(zone.origin).length;
  for (let i = labels.length - depth - 1; i >= 0; i--) {
    const candidate = labels.slice(i).join(".");
    if (candidate !== skip && zone.cuts.has(candidate)) return candidate;
  }
  return undefined;
}

/** The source of synthesis `*.<closest encloser>` for a name that does not exist, if it exists. */
export function wildcardFor(zone: Zone, name: string): string | undefined {
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
