import { splitLabels } from "../wire/names.js";
import { type ResourceRecord, RRType, type RrsigFields } from "../wire/records.js";
import { WireWriter } from "../wire/wire-writer.js";
import { rdataBytes, type ZoneKey } from "./zone-key.js";
import type { ZoneKeySet } from "./zone-key-set.js";

/** Inception is backdated this far, for resolvers whose clocks run behind (as Knot and PowerDNS do). */
export const INCEPTION_BACKDATE_S = 3600;
/** Signatures are valid this long from now... */
export const VALIDITY_S = 7 * 86400;
/** ...and made again once they are this old, well before they expire (4 days of margin). */
export const RENEW_AFTER_S = 3 * 86400;
const MAX_CACHED = 50_000;

/** Signatures made by this process (every zone, every responder): the metrics read it. */
export const signingStats = { signatures: 0 };

/**
 * RRSIGs made once per RRset and kept until their renewal time: every answer holding the same
 * RRset (the SOA of every negative answer, the DNSKEY) reuses the signature.
 */
export class SignatureCache {
  private readonly cache = new Map<string, { rrsig: ResourceRecord; renewAt: number }>();
  signed = 0;

  constructor(
    readonly key: ZoneKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** The RRSIG over `rrset` (one owner, one type, one TTL) and when it must be made again (ms). */
  sign(rrset: readonly ResourceRecord[]): { rrsig: ResourceRecord; renewAt: number } {
    const first = rrset[0] as ResourceRecord;
    const id = `${first.name}\u0000${first.data.type}\u0000${first.ttl}\u0000${rrset
      .map((r) => rdataBytes(r.data).toString("latin1"))
      .sort()
      .join("\u0000")}`;
    const nowMs = this.now();
    const hit = this.cache.get(id);
    if (hit && hit.renewAt > nowMs) return hit;
    const now = Math.floor(nowMs / 1000);
    const made = {
      rrsig: signRRset(this.key, rrset, now - INCEPTION_BACKDATE_S, now + VALIDITY_S),
      renewAt: (now + RENEW_AFTER_S) * 1000,
    };
    this.signed++;
    signingStats.signatures++;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(id, made);
    return made;
  }
}

/** An RRSIG over one RRset (RFC 4034 3.1.8.1: RRSIG RDATA without signature, then the RRs in canonical form and order). */
export function signRRset(
  key: ZoneKey,
  rrset: readonly ResourceRecord[],
  inception: number,
  expiration: number,
): ResourceRecord {
  const first = rrset[0] as ResourceRecord;
  const labels = splitLabels(first.name);
  const fields: RrsigFields = {
    typeCovered: RRType[first.data.type],
    algorithm: key.algorithm,
    labels: labels[0] === "*" ? labels.length - 1 : labels.length,
    originalTtl: first.ttl,
    expiration: expiration >>> 0,
    inception: inception >>> 0,
    keyTag: key.keyTag,
    signer: key.origin,
  };
  const w = new WireWriter(false);
  w.rrsigFields(fields);
  const owner = new WireWriter(false);
  owner.name(first.name, false);
  const ownerBytes = owner.bytes();
  const datas = rrset.map((r) => rdataBytes(r.data)).sort(Buffer.compare);
  for (let i = 0; i < datas.length; i++) {
    const rdata = datas[i] as Buffer;
    if (i > 0 && rdata.equals(datas[i - 1] as Buffer)) continue;
    w.raw(ownerBytes);
    w.u16(fields.typeCovered);
    w.u16(1);
    w.u32(fields.originalTtl);
    w.u16(rdata.length);
    w.raw(rdata);
  }
  return {
    name: first.name,
    ttl: first.ttl,
    data: { type: "RRSIG", ...fields, signature: key.sign(w.bytes()) },
  };
}

/**
 * Signs a zone's RRsets with its key set: the DNSKEY RRset with every key in it (a resolver whose
 * DS points at any of them validates it, RFC 6781 4.1.2), everything else with the active key.
 */
export class ZoneSigner {
  private readonly active: SignatureCache;
  private readonly all: SignatureCache[];

  constructor(
    readonly set: ZoneKeySet,
    kept?: ZoneSigner,
    now: () => number = Date.now,
  ) {
    const reuse = new Map((kept?.all ?? []).map((c) => [c.key, c]));
    this.all = set.published.map((k) => reuse.get(k) ?? new SignatureCache(k, now));
    this.active = this.all[set.published.indexOf(set.active)] as SignatureCache;
  }

  /** The RRSIGs over `rrset` and when the first must be made again (ms). */
  sign(rrset: readonly ResourceRecord[]): { rrsigs: ResourceRecord[]; renewAt: number } {
    const first = rrset[0] as ResourceRecord;
    if (first.data.type !== "DNSKEY" || first.name !== this.set.origin) {
      const made = this.active.sign(rrset);
      return { rrsigs: [made.rrsig], renewAt: made.renewAt };
    }
    const made = this.all.map((c) => c.sign(rrset));
    return { rrsigs: made.map((m) => m.rrsig), renewAt: Math.min(...made.map((m) => m.renewAt)) };
  }
}
