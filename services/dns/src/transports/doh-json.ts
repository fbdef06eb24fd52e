import dnsPacket, { type Answer as PacketRecord } from "dns-packet";
import dnsTypes from "dns-packet/types.js";
import { DohRequestError } from "../errors.js";

/** The question of a `/resolve?name=&type=` request as a wire query (ID 0, RD set, EDNS 4096). */
export function jsonQuery(
  name: string | null,
  type: string | null,
  flags: { cd: boolean; do: boolean },
): Buffer {
  if (!name) throw new DohRequestError(400, "name is required (/resolve?name=example.com&type=A)");
  const qtype = parseType(type ?? "A");
  const labels = name === "." ? [] : name.replace(/\.$/, "").split(".");
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label, "utf8");
    if (bytes.length === 0 || bytes.length > 63)
      throw new DohRequestError(400, `name ${JSON.stringify(name)}: a label must have 1 to 63 octets`);
    total += bytes.length + 1;
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  if (total > 255) throw new DohRequestError(400, `name ${JSON.stringify(name)} is over 255 octets`);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x0100 | (flags.cd ? 0x0010 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(qtype, 0);
  question.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, flags.do ? 0x80 : 0, 0, 0, 0]);
  return Buffer.concat([header, ...parts, Buffer.from([0]), question, opt]);
}

function parseType(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 65535) return n;
  } else {
    const n = dnsTypes.toType(text);
    if (n > 0 && !/^UNKNOWN_/i.test(text)) return n;
  }
  throw new DohRequestError(
    400,
    `type ${JSON.stringify(text)} is not a DNS type (A, AAAA, MX, ... or 1-65535)`,
  );
}

interface JsonRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

/** A DNS response in the JSON form Google's and Cloudflare's DoH services use. */
export function jsonAnswer(response: Buffer): Record<string, unknown> {
  const p = dnsPacket.decode(response);
  const flags = p.flags ?? 0;
  const records = (list: PacketRecord[] | undefined) =>
    (list ?? []).filter((r) => r.type !== "OPT").map(toJson);
  const out: Record<string, unknown> = {
    Status: rcodeOf(response),
    TC: (flags & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    RD: (flags & dnsPacket.RECURSION_DESIRED) !== 0,
    RA: (flags & dnsPacket.RECURSION_AVAILABLE) !== 0,
    AD: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
    CD: (flags & dnsPacket.CHECKING_DISABLED) !== 0,
    Question: (p.questions ?? []).map((q) => ({ name: dotted(q.name), type: dnsTypes.toType(q.type) })),
  };
  const answer = records(p.answers);
  const authority = records(p.authorities);
  const additional = records(p.additionals);
  if (answer.length) out.Answer = answer;
  if (authority.length) out.Authority = authority;
  if (additional.length) out.Additional = additional;
  return out;
}

/** The rcode with the extended bits of an OPT record, if any (BADVERS is 16). */
function rcodeOf(response: Buffer): number {
  return response.readUInt16BE(2) & 0xf;
}

function dotted(name: string): string {
  return name === "" || name === "." ? "." : `${name}.`;
}

function quote(b: Buffer): string {
  let s = "";
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c > 0x7e) s += `\\${String(c).padStart(3, "0")}`;
    else s += String.fromCharCode(c);
  }
  return `"${s}"`;
}

function toJson(r: PacketRecord): JsonRecord {
  const ttl = (r as { ttl?: number }).ttl ?? 0;
  return { name: dotted(r.name), type: dnsTypes.toType(r.type), TTL: ttl, data: dataText(r) };
}

function dataText(r: PacketRecord): string {
  // biome-ignore lint/suspicious/noExplicitAny: dns-packet's data is typed per record type
  const d = (r as any).data;
  switch (r.type) {
    case "A":
    case "AAAA":
      return String(d);
    case "CNAME":
    case "NS":
    case "PTR":
    case "DNAME":
      return dotted(String(d));
    case "MX":
      return `${d.preference} ${dotted(d.exchange)}`;
    case "TXT":
      return (Array.isArray(d) ? d : [d]).map((s: Buffer | string) => quote(Buffer.from(s))).join(" ");
    case "SOA":
      return `${dotted(d.mname)} ${dotted(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case "SRV":
      return `${d.priority} ${d.weight} ${d.port} ${dotted(d.target)}`;
    case "CAA":
      return `${d.flags ?? 0} ${d.tag} ${quote(Buffer.from(String(d.value)))}`;
    default: {
      // RFC 3597 form for everything else.
      const codec = (dnsPacket as unknown as { record(type: string): { encode(data: unknown): Buffer } })
        .record;
      const rdata = Buffer.isBuffer(d) ? d : codec(r.type).encode(d).subarray(2);
      return `\\# ${rdata.length} ${rdata.toString("hex")}`;
    }
  }
}
