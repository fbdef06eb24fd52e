import { EDE_LENGTH, OPT_LENGTH, OUR_UDP_SIZE, writeOpt } from "../wire/opt-record.js";
import type { EdnsInfo, ParsedQuery } from "../wire/query-parser.js";
import type { ResponseTemplate } from "./response-template.js";

const TC = 0x0200;
const RD = 0x0100;
const MIN_UDP = 512;

/**
 * The response to `msg` from a template: the client's ID, RD and question case patched in, and,
 * over UDP, cut to the client's size (`cut`: to header, question and OPT with TC set, the slip).
 */
export function fitResponse(
  t: ResponseTemplate,
  msg: Buffer,
  q: ParsedQuery,
  udp: boolean,
  cut = false,
): Buffer {
  const opt = q.edns ? OPT_LENGTH + (t.ede ? EDE_LENGTH : 0) : 0;
  const limit = udp ? udpLimit(q.edns) : 65535;
  let out: Buffer;
  let length = t.bytes.length;
  let truncate = false;
  if (length + opt <= limit && !cut) {
    out = Buffer.allocUnsafe(length + opt);
    t.bytes.copy(out, 0, 0, length);
  } else if (t.withoutAdditional + opt <= limit && !cut) {
    // As Knot does: every additional RRset that still fits, in order; TC when required glue does not.
    out = Buffer.allocUnsafe(limit);
    length = t.withoutAdditional;
    t.bytes.copy(out, 0, 0, length);
    let count = 0;
    let start = t.withoutAdditional;
    for (const set of t.additionalSets) {
      const size = set.end - start;
      if (length + size + opt <= limit) {
        t.bytes.copy(out, length, start, set.end);
        length += size;
        count += set.count;
      } else if (set.required) truncate = true;
      start = set.end;
    }
    out = out.subarray(0, length + opt);
    out.writeUInt16BE(count, 10);
  } else {
    truncate = true;
    length = q.questionEnd;
    out = Buffer.allocUnsafe(length + opt);
    t.bytes.copy(out, 0, 0, length);
    out.fill(0, 6, 12);
  }
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(out.readUInt16BE(2) | (q.flags & RD) | (truncate ? TC : 0), 2);
  msg.copy(out, 12, 12, q.qnameEnd);
  if (q.edns) {
    writeOpt(out, length, t.rcode, q.edns.dnssecOk, t.ede);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  return out;
}

function udpLimit(edns: EdnsInfo | undefined): number {
  if (!edns) return MIN_UDP;
  return Math.min(OUR_UDP_SIZE, Math.max(MIN_UDP, edns.udpSize));
}
