import { type ResourceRecord, RRType } from "../wire/records.js";
import { WireWriter } from "../wire/wire-writer.js";
import type { Answer } from "./resolver.js";

/**
 * A response encoded once, with the question in lowercase and ID 0. Serving it copies the bytes and
 * patches the ID, the RD flag and the question's case (same length, so compression pointers hold).
 */
export interface ResponseTemplate {
  bytes: Buffer;
  /** Length without the additional section (what must fit, or the answer is truncated). */
  withoutAdditional: number;
  /**
   * The additional section's RRsets, each ending at `end`. Each compresses only against the part
   * before the additional section (and itself), so any subset can be copied out as it is.
   */
  additionalSets: AdditionalSet[];
  rcode: number;
  /** Extended DNS Error code for the OPT record (RFC 8914), 0 for none. */
  ede: number;
  /** What response rate limiting counts this answer as (see answerClass). */
  answerClass: string;
}

export interface AdditionalSet {
  end: number;
  count: number;
  /** Glue a referral needs (RFC 9471): TC=1 when it does not fit. */
  required: boolean;
}

const QR = 0x8000;
const AA = 0x0400;

export function encodeTemplate(
  qname: string,
  qtype: number,
  qclass: number,
  answer: Answer,
): ResponseTemplate {
  const w = new WireWriter();
  w.u16(0);
  w.u16(QR | (answer.authoritative ? AA : 0) | (answer.rcode & 0xf));
  w.u16(1);
  w.u16(answer.answer.length);
  w.u16(answer.authority.length);
  w.u16(answer.additional.length);
  w.name(qname);
  w.u16(qtype);
  w.u16(qclass);
  for (const rr of answer.answer) w.record(rr);
  for (const rr of answer.authority) w.record(rr);
  const withoutAdditional = w.length;
  const base = w.compressionState();
  const additionalSets: AdditionalSet[] = [];
  const records = answer.additional;
  for (let i = 0; i < records.length; ) {
    const first = records[i];
    if (!first) break;
    w.restoreCompression(base);
    let count = 0;
    // An RRset and the RRSIG over it go together or not at all.
    while (i < records.length && records[i]?.name === first.name && sameSet(records[i], first)) {
      w.record(records[i++] as (typeof records)[number]);
      count++;
    }
    additionalSets.push({ end: w.length, count, required: answer.requiredGlue?.has(first.name) ?? false });
  }
  return {
    bytes: w.bytes(),
    withoutAdditional,
    additionalSets,
    rcode: answer.rcode,
    ede: answer.ede ?? 0,
    answerClass: answerClass(qname, qtype, answer),
  };
}

/** Errors of any kind share one class; rate limiting needs nothing finer for them. */
export const ERROR_CLASS = "error";

/**
 * The answer class for response rate limiting, as NSD and Knot group answers: the same positive or
 * NODATA answer (name and type), NXDOMAIN per zone, synthesized answers per wildcard, referrals per
 * delegation, errors together, so random names cannot spread a flood over many buckets.
 */
function answerClass(qname: string, qtype: number, answer: Answer): string {
  if (answer.rcode === 3) return `nxdomain ${answer.groupName ?? qname}`;
  if (answer.rcode !== 0) return ERROR_CLASS;
  if (!answer.authoritative) return `referral ${answer.groupName ?? qname}`;
  if (answer.wildcard) return `wildcard ${answer.groupName ?? qname} ${qtype}`;
  return `${answer.answer.length > 0 ? "answer" : "nodata"} ${qname} ${qtype}`;
}

function sameSet(rr: ResourceRecord | undefined, first: ResourceRecord): boolean {
  const d = rr?.data;
  return d?.type === first.data.type || (d?.type === "RRSIG" && d.typeCovered === RRType[first.data.type]);
}
