import { RRType } from "./records.js";
import type { Answer } from "./resolver.js";
import { WireWriter } from "./wire-writer.js";

/**
 * A response encoded once, with the question in lowercase and ID 0. Serving it copies the bytes and
 * patches the ID, the RD flag and the question's case (same length, so compression pointers hold).
 */
export interface ResponseTemplate {
  bytes: Buffer;
  /** Length without the additional section, and that section's record count (dropped first when too big). */
  withoutAdditional: number;
  rcode: number;
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
  for (const rr of answer.additional) w.record(rr);
  return { bytes: w.bytes(), withoutAdditional, rcode: answer.rcode };
}

export const OPT_LENGTH = 11;
/** The UDP payload size we advertise (DNS flag day 2020). */
export const OUR_UDP_SIZE = 1232;

/** Writes an OPT record at `at`: our size, the extended rcode's upper bits, version 0, DO echoed. */
export function writeOpt(out: Buffer, at: number, extendedRcode: number, dnssecOk: boolean): void {
  out[at] = 0;
  out.writeUInt16BE(RRType.OPT, at + 1);
  out.writeUInt16BE(OUR_UDP_SIZE, at + 3);
  out[at + 5] = (extendedRcode >> 4) & 0xff;
  out[at + 6] = 0;
  out.writeUInt16BE(dnssecOk ? 0x8000 : 0, at + 7);
  out.writeUInt16BE(0, at + 9);
}
