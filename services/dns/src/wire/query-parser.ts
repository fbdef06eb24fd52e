import { labelText } from "./names.js";

/** What the server needs from a query, read straight from the bytes (no general decoder). */
export interface ParsedQuery {
  id: number;
  /** Header flags word as sent (opcode, RD, ...). */
  flags: number;
  opcode: number;
  /** Canonical question name (see names.ts), made on first use. */
  readonly qname: string;
  /** Lowercased wire name plus qtype, as a latin1 string: the pre-encoded responses' key. */
  key: string;
  /** Where the question name sits in the packet (always 12) and where the question ends. */
  qnameEnd: number;
  questionEnd: number;
  qtype: number;
  qclass: number;
  edns: EdnsInfo | undefined;
}

export interface EdnsInfo {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
}

export type ParseResult =
  | { kind: "query"; query: ParsedQuery }
  /** Answer FORMERR (or NOTIMP) with what could be read. */
  | { kind: "error"; id: number; flags: number; rcode: number; reason: string }
  /** Not worth an answer: no readable header, or a response. */
  | { kind: "drop"; reason: string };

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

const MAX_SKIPPED_RECORDS = 64;

/** Reads the header, the one question and any OPT record. Never throws; bounded work for any input. */
export function parseQuery(msg: Buffer): ParseResult {
  if (msg.length < 12) return { kind: "drop", reason: "short header" };
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return { kind: "drop", reason: "a response" };
  const formerr = (reason: string): ParseResult => ({
    kind: "error",
    id,
    flags,
    rcode: Rcode.FORMERR,
    reason,
  });
  const opcode = (flags >> 11) & 0xf;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  if (opcode !== 0) return { kind: "error", id, flags, rcode: Rcode.NOTIMP, reason: `opcode ${opcode}` };
  if (qd !== 1) return formerr(`${qd} questions`);
  // The question name: no compression is possible before it, so a pointer is malformed.
  let pos = 12;
  let wireLength = 1;
  let ascii = true;
  for (;;) {
    if (pos >= msg.length) return formerr("question name runs past the end");
    const len = msg[pos] as number;
    if (len === 0) {
      pos++;
      break;
    }
    if (len > 63) return formerr("compressed or extended label in the question");
    if (pos + 1 + len > msg.length) return formerr("label runs past the end");
    wireLength += len + 1;
    if (wireLength > 255) return formerr("question name over 255 octets");
    for (let i = pos + 1; i <= pos + len; i++) if ((msg[i] as number) >= 0x80) ascii = false;
    pos += len + 1;
  }
  const qnameEnd = pos;
  if (pos + 4 > msg.length) return formerr("question runs past the end");
  const qtype = msg.readUInt16BE(pos);
  const qclass = msg.readUInt16BE(pos + 2);
  pos += 4;
  const questionEnd = pos;
  let edns: EdnsInfo | undefined;
  const records = an + ns + ar;
  if (records > MAX_SKIPPED_RECORDS) return formerr("too many records in a query");
  for (let i = 0; i < records; i++) {
    const nameStart = pos;
    const after = skipName(msg, pos);
    if (after < 0) return formerr("bad name in a record");
    if (after + 10 > msg.length) return formerr("record runs past the end");
    const type = msg.readUInt16BE(after);
    const rdlength = msg.readUInt16BE(after + 8);
    const end = after + 10 + rdlength;
    if (end > msg.length) return formerr("record data runs past the end");
    if (type === 41) {
      if (i < an + ns || edns || msg[nameStart] !== 0) return formerr("misplaced OPT record");
      edns = {
        udpSize: msg.readUInt16BE(after + 2),
        version: msg[after + 5] as number,
        dnssecOk: ((msg[after + 6] as number) & 0x80) !== 0,
      };
    }
    pos = end;
  }
  if (pos !== msg.length) return formerr("bytes after the last record");
  // The key: the name in lowercase ASCII only (RFC 4343; latin1 toLowerCase would also fold octets
  // over 0x7f), then the qtype bytes as they are: folded, type 65 (0x0041, "A") read as type 97.
  const name = ascii ? msg.toString("latin1", 12, qnameEnd).toLowerCase() : lowerWire(msg, 12, qnameEnd);
  const key = name + msg.toString("latin1", qnameEnd, qnameEnd + 2);
  return {
    kind: "query",
    query: new Query(msg, id, flags, opcode, key, qnameEnd, questionEnd, qtype, qclass, edns),
  };
}

/** A parsed query; the name as text is made only when the general path asks for it. */
class Query implements ParsedQuery {
  private name: string | undefined;

  constructor(
    private readonly msg: Buffer,
    readonly id: number,
    readonly flags: number,
    readonly opcode: number,
    readonly key: string,
    readonly qnameEnd: number,
    readonly questionEnd: number,
    readonly qtype: number,
    readonly qclass: number,
    readonly edns: EdnsInfo | undefined,
  ) {}

  get qname(): string {
    this.name ??= nameText(this.msg, 12);
    return this.name;
  }
}

/** The uncompressed name at `start` (already checked) as canonical text. */
function nameText(msg: Buffer, start: number): string {
  let name = "";
  for (let pos = start; msg[pos] !== 0; pos += (msg[pos] as number) + 1) {
    name += (name === "" ? "" : ".") + labelText(msg, pos + 1, pos + 1 + (msg[pos] as number));
  }
  return name;
}

/** Skips a possibly compressed name; pointers must point backwards (no loops). -1 when malformed. */
export function skipName(msg: Buffer, start: number): number {
  let pos = start;
  let total = 1;
  let end = -1;
  let jumps = 0;
  for (;;) {
    if (pos >= msg.length) return -1;
    const len = msg[pos] as number;
    if (len === 0) return end < 0 ? pos + 1 : end;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return -1;
      const target = ((len & 0x3f) << 8) | (msg[pos + 1] as number);
      if (target >= pos || ++jumps > 127) return -1;
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if (len > 63) return -1;
    total += len + 1;
    if (total > 255) return -1;
    pos += len + 1;
  }
}

/** The bytes [start, end) with ASCII letters lowercased, as a latin1 string. */
export function lowerWire(msg: Buffer, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = msg[i] as number;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return s;
}
