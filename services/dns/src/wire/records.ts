/** The record model: one resource record, its RDATA already parsed. Names are canonical (see names.ts). */

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  CAA: 257,
} as const;

export type RRTypeName = Exclude<keyof typeof RRType, "OPT">;

export const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

export function typeName(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export type RData =
  | { type: "A"; address: string }
  | { type: "AAAA"; address: string }
  | { type: "CNAME" | "NS" | "PTR"; target: string }
  | { type: "MX"; preference: number; exchange: string }
  | { type: "TXT"; strings: Buffer[] }
  | ({ type: "SOA" } & SoaData)
  | { type: "SRV"; priority: number; weight: number; port: number; target: string }
  | { type: "CAA"; flags: number; tag: string; value: Buffer };

export interface ResourceRecord {
  name: string;
  ttl: number;
  data: RData;
}

/** The RDATA in zone-file presentation form, for the admin API and logs. */
export function rdataText(data: RData): string {
  const abs = (n: string) => `${n}.`;
  const quote = (b: Buffer) =>
    `"${[...b].map((c) => (c === 0x22 || c === 0x5c ? `\\${String.fromCharCode(c)}` : c < 0x20 || c > 0x7e ? `\\${String(c).padStart(3, "0")}` : String.fromCharCode(c))).join("")}"`;
  switch (data.type) {
    case "A":
    case "AAAA":
      return data.address;
    case "CNAME":
    case "NS":
    case "PTR":
      return abs(data.target);
    case "MX":
      return `${data.preference} ${abs(data.exchange)}`;
    case "TXT":
      return data.strings.map(quote).join(" ");
    case "SOA":
      return `${abs(data.mname)} ${abs(data.rname)} ${data.serial} ${data.refresh} ${data.retry} ${data.expire} ${data.minimum}`;
    case "SRV":
      return `${data.priority} ${data.weight} ${data.port} ${abs(data.target)}`;
    case "CAA":
      return `${data.flags} ${data.tag} ${quote(data.value)}`;
  }
}

/** Splits a long text into the 255-octet character-strings TXT is made of. */
export function txtStrings(text: string | Buffer): Buffer[] {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}
