import { UpstreamError } from "../errors.js";
import { OPT_LENGTH, writeOpt } from "../wire/opt-record.js";
import { lowerWire, type ParsedQuery, Rcode } from "../wire/query-parser.js";

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;

/** The answer must be a response to this very question (ID and question, case aside). */
export function checkResponse(response: Buffer, query: Buffer, q: ParsedQuery): void {
  if (
    response.length < q.questionEnd ||
    response.readUInt16BE(0) !== query.readUInt16BE(0) ||
    !(response.readUInt16BE(2) & QR) ||
    response.readUInt16BE(4) !== 1 ||
    lowerWire(response, 12, q.questionEnd) !== lowerWire(query, 12, q.questionEnd)
  ) {
    throw new UpstreamError("the upstream's answer does not match the question");
  }
}

/** The upstream's answer for this client: its ID, RD and question case; RA set, AA cleared; fit to UDP. */
export function shape(response: Buffer, msg: Buffer, q: ParsedQuery, udp: boolean): Buffer {
  const limit = udp ? (q.edns ? Math.min(4096, Math.max(512, q.edns.udpSize)) : 512) : 65535;
  let out: Buffer;
  let truncated = false;
  if (response.length > limit) {
    truncated = true;
    const opt = q.edns ? OPT_LENGTH : 0;
    out = Buffer.alloc(q.questionEnd + opt);
    response.copy(out, 0, 0, q.questionEnd);
    out.writeUInt32BE(0, 6);
    out.writeUInt16BE(0, 10);
    if (q.edns) {
      writeOpt(out, q.questionEnd, 0, q.edns.dnssecOk);
      out.writeUInt16BE(1, 10);
    }
  } else out = Buffer.from(response);
  out.writeUInt16BE(q.id, 0);
  const flags = (out.readUInt16BE(2) & ~(AA | RD | TC)) | RA | (q.flags & RD) | (truncated ? TC : 0);
  out.writeUInt16BE(flags, 2);
  msg.copy(out, 12, 12, q.qnameEnd);
  return out;
}

/** SERVFAIL with RA: we would have recursed, but no upstream answered. */
export function failure(msg: Buffer, q: ParsedQuery): Buffer {
  const opt = q.edns ? OPT_LENGTH : 0;
  const out = Buffer.alloc(q.questionEnd + opt);
  msg.copy(out, 0, 0, q.questionEnd);
  out.writeUInt16BE(QR | RA | (q.flags & RD) | Rcode.SERVFAIL, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  if (q.edns) {
    writeOpt(out, q.questionEnd, Rcode.SERVFAIL, q.edns.dnssecOk);
    out.writeUInt16BE(1, 10);
  }
  return out;
}
