import { signAnswer } from "../dnssec/sign-answer.js";
import { ZoneSigner } from "../dnssec/signatures.js";
import type { ZoneKeySet } from "../dnssec/zone-key-set.js";
import { type ParsedQuery, type ParseResult, parseQuery, Rcode } from "../wire/query-parser.js";
import { RRType, type RRTypeName, typeNames } from "../wire/records.js";
import type { ZoneSet } from "../zones/zone-set.js";
import { fitResponse } from "./fit-response.js";
import { type Answer, refused, resolve } from "./resolver.js";
import { ERROR_CLASS, encodeTemplate, type ResponseTemplate } from "./response-template.js";

/**
 * What the responder answered: the bytes to send and the answer class rate limiting counts them
 * as. `slip()` cuts it to the truncated form without reading the query again.
 */
export interface Answered {
  readonly bytes: Buffer;
  readonly answerClass: string;
  /** The question and the template the bytes came from (none for header-only and bare answers). */
  readonly query: ParsedQuery | undefined;
  readonly template: ResponseTemplate | undefined;
}

/** Called once per message: its qtype and the rcode answered, or rcode DROPPED when none was sent. */
export type Observer = (qtype: number, rcode: number, udp: boolean) => void;
export const DROPPED = -1;

const RD = 0x0100;
const QR = 0x8000;
const CLASS_IN = 1;
const DS = 43;
const IXFR = 251;
const AXFR = 252;
const ANY = 255;
const NOTAUTH = 9;
/** Responses for names without data (NXDOMAIN, wildcards) are cached too, up to this many. */
const MAX_DYNAMIC = 10_000;

/**
 * Turns query bytes into response bytes. The hot path: parse the question from the bytes, look up a
 * response pre-encoded at zone load (or cached after a first miss), patch it. Never throws.
 */
export class Responder {
  private readonly prebuilt = new Map<string, ResponseTemplate>();
  private readonly dynamic = new Map<string, ResponseTemplate>();
  /** The prebuilt keys of each zone, so a change to one zone re-encodes only that zone. */
  private readonly zoneKeys = new Map<string, string[]>();
  /** DO=1 answers of signed zones, signed on first ask and kept until a signature needs renewing. */
  private readonly signed = new Map<string, { template: ResponseTemplate; renewAt: number }>();
  /** The signer of each signed zone (origin → its key set's signature caches). */
  private readonly signers = new Map<string, ZoneSigner>();

  /** `reuse`: a responder whose templates still hold for the zones named in `unchanged`. */
  constructor(
    readonly zones: ZoneSet,
    private readonly observe: Observer = () => {},
    reuse?: { from: Responder; unchanged: ReadonlySet<string> },
    keys: ReadonlyMap<string, ZoneKeySet> = new Map(),
  ) {
    for (const [origin, set] of keys) {
      // Signatures are cached by RRset content, so a changed zone keeps those of its unchanged RRsets;
      // a changed key set keeps the caches of the keys still in it (new keys start empty).
      const kept = reuse?.from.signers.get(origin);
      this.signers.set(origin, kept?.set === set ? kept : new ZoneSigner(set, kept));
    }
    for (const zone of zones.zones) {
      const keys = reuse?.unchanged.has(zone.origin) ? reuse.from.zoneKeys.get(zone.origin) : undefined;
      if (keys && reuse) {
        for (const key of keys) {
          const template = reuse.from.prebuilt.get(key);
          if (template) this.prebuilt.set(key, template);
        }
        this.zoneKeys.set(zone.origin, keys);
        continue;
      }
      const built: string[] = [];
      for (const [name, node] of zone.nodes) {
        if (name.startsWith("*") || zones.find(name) !== zone) continue;
        for (const type of node.keys()) built.push(this.store(this.prebuilt, name, type));
      }
      this.zoneKeys.set(zone.origin, built);
    }
  }

  get prebuiltCount(): number {
    return this.prebuilt.size;
  }

  private store(map: Map<string, ResponseTemplate>, name: string, type: RRTypeName): string {
    const code = RRType[type];
    const template = encodeTemplate(name, code, CLASS_IN, resolve(this.zones, name, type));
    const key = template.bytes.toString("latin1", 12, template.bytes.indexOf(0, 12) + 3);
    map.set(key, template);
    return key;
  }

  /**
   * What to send, or undefined to drop. Over UDP it fits the client's size; over TCP it is whole.
   * The answer class comes with the bytes, for the rate limiter.
   */
  respond(msg: Buffer, udp: boolean): Answered | undefined {
    return this.answerParsed(msg, parseQuery(msg), udp);
  }

  /** As respond, for a caller that has parsed `msg` already (the forwarder): parsed once. */
  answerParsed(msg: Buffer, parsed: ParseResult, udp: boolean): Answered | undefined {
    const observe = this.observe;
    if (parsed.kind === "drop") {
      observe(0, DROPPED, udp);
      return undefined;
    }
    if (parsed.kind === "error") {
      observe(0, parsed.rcode, udp);
      return plain(headerOnly(parsed.id, parsed.flags, parsed.rcode));
    }
    const q = parsed.query;
    if (q.edns && q.edns.version !== 0) {
      observe(q.qtype, Rcode.BADVERS, udp);
      return plain(fitResponse(bare(q, Rcode.BADVERS), msg, q, udp));
    }
    if (q.qtype === IXFR || q.qtype === AXFR) {
      // No zone transfers: NOTAUTH, and AXFR over UDP is not even a valid question (as Knot answers).
      const rcode = q.qtype === AXFR && udp ? Rcode.NOTIMP : NOTAUTH;
      observe(q.qtype, rcode, udp);
      return plain(fitResponse(bare(q, rcode), msg, q, udp));
    }
    let template: ResponseTemplate | undefined;
    if (q.edns?.dnssecOk && this.signers.size > 0 && q.qclass === CLASS_IN) template = this.signedTemplate(q);
    if (!template && q.qclass === CLASS_IN) template = this.prebuilt.get(q.key) ?? this.dynamic.get(q.key);
    if (!template) template = this.general(q);
    observe(q.qtype, template.rcode, udp);
    return {
      bytes: fitResponse(template, msg, q, udp),
      answerClass: template.answerClass,
      query: q,
      template,
    };
  }

  /** The signed answer for a DO=1 question in a signed zone (cached); undefined for other zones. */
  private signedTemplate(q: ParsedQuery): ResponseTemplate | undefined {
    const now = Date.now();
    const cached = this.signed.get(q.key);
    if (cached && cached.renewAt > now) return cached.template;
    const zone = this.zones.find(q.qname);
    const signer = zone && this.signers.get(zone.origin);
    if (!zone || !signer) return undefined;
    let made: { template: ResponseTemplate; renewAt: number };
    try {
      const answer = this.resolveQuery(q);
      const signed = signAnswer(zone, answer, q.qname, signer);
      made = { template: encodeTemplate(q.qname, q.qtype, q.qclass, signed.answer), renewAt: signed.renewAt };
    } catch {
      return encodeTemplate(q.qname, q.qtype, q.qclass, servfail());
    }
    if (this.signed.size >= MAX_DYNAMIC + this.prebuilt.size) this.signed.clear();
    this.signed.set(q.key, made);
    return made.template;
  }

  private resolveQuery(q: ParsedQuery) {
    const known = typeNames.get(q.qtype);
    const type = known === "OPT" ? undefined : (known as RRTypeName | undefined);
    return resolve(this.zones, q.qname, type, { parentSide: q.qtype === DS, any: q.qtype === ANY });
  }

  /** The general path: resolve and encode, cached when the answer is cacheable. */
  private general(q: ParsedQuery): ResponseTemplate {
    if (q.qclass !== CLASS_IN) return encodeTemplate(q.qname, q.qtype, q.qclass, refused());
    let template: ResponseTemplate;
    try {
      template = encodeTemplate(q.qname, q.qtype, q.qclass, this.resolveQuery(q));
    } catch {
      template = encodeTemplate(q.qname, q.qtype, q.qclass, servfail());
    }
    if (this.dynamic.size >= MAX_DYNAMIC) this.dynamic.clear();
    this.dynamic.set(q.key, template);
    return template;
  }
}

/**
 * The rate limiter's slip: the UDP answer `respond` gave for `msg`, cut to header, question and
 * OPT with TC set, so a real client retries over TCP. Not counted a second time; not parsed again.
 * Header-only and bare answers (errors, BADVERS, transfers) go out as they were.
 */
export function slip(msg: Buffer, answered: Answered): Buffer {
  if (!answered.query || !answered.template) return answered.bytes;
  return fitResponse(answered.template, msg, answered.query, true, true);
}

function servfail(): Answer {
  return { rcode: Rcode.SERVFAIL, authoritative: false, answer: [], authority: [], additional: [] };
}

function plain(bytes: Buffer): Answered {
  return { bytes, answerClass: ERROR_CLASS, query: undefined, template: undefined };
}

function headerOnly(id: number, flags: number, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | rcode, 2);
  return out;
}

/** A response with the question and no records. */
function bare(q: ParsedQuery, rcode: number): ResponseTemplate {
  const answer = { rcode, authoritative: false, answer: [], authority: [], additional: [] };
  return encodeTemplate(q.qname, q.qtype, q.qclass, answer);
}
