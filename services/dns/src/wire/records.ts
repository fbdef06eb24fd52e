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
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  CDS: 59,
  CDNSKEY: 60,
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
  | { type: "CAA"; flags: number; tag: string; value: Buffer }
  // DNSSEC (RFC 4034, RFC 8078): made by the online signer, never read from zone files.
  | { type: "DNSKEY" | "CDNSKEY"; flags: number; protocol: number; algorithm: number; publicKey: Buffer }
  | { type: "DS" | "CDS"; keyTag: number; algorithm: number; digestType: number; digest: Buffer }
  | ({ type: "RRSIG" } & RrsigFields & { signature: Buffer })
  | { type: "NSEC"; next: string; types: number[] };

/** The RRSIG RDATA before its signature (RFC 4034 3.1). */
export interface RrsigFields {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string;
}

/** The types only the online signer makes (zone files and UpsertRecord cannot hold them). */
export const SIGNER_TYPES: ReadonlySet<string> = new Set(["DS", "RRSIG", "NSEC", "DNSKEY", "CDS", "CDNSKEY"]);

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
    case "DNSKEY":
    case "CDNSKEY":
      return `${data.flags} ${data.protocol} ${data.algorithm} ${data.publicKey.toString("base64")}`;
    case "DS":
    case "CDS":
      return `${data.keyTag} ${data.algorithm} ${data.digestType} ${data.digest.toString("hex").toUpperCase()}`;
    case "RRSIG":
      return `${typeName(data.typeCovered)} ${data.algorithm} ${data.labels} ${data.originalTtl} ${data.expiration} ${data.inception} ${data.keyTag} ${abs(data.signer)} ${data.signature.toString("base64")}`;
    case "NSEC":
      return `${abs(data.next)} ${data.types.map(typeName).join(" ")}`;
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
