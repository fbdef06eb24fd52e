import { isIPv4 } from "node:net";
import { EncodeError } from "../errors.js";
import { labelBytes, splitLabels } from "./names.js";
import { type RData, type ResourceRecord, RRType, type RrsigFields } from "./records.js";

/**
 * Writes a DNS message: header, names with compression (RFC 1035 4.1.4), records. Grows as needed;
 * `bytes()` is the message so far.
 */
export class WireWriter {
  private buf = Buffer.alloc(512);
  private len = 0;
  private offsets = new Map<string, number>();

  /** `compress` false: every name written whole (the canonical form signatures cover, RFC 4034 6.2). */
  constructor(private readonly compress = true) {}

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  get length(): number {
    return this.len;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }
  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
  /** The names compression can point at so far; `restoreCompression` forgets every name written since. */
  compressionState(): Map<string, number> {
    return new Map(this.offsets);
  }
  restoreCompression(state: Map<string, number>): void {
    this.offsets = new Map(state);
  }

  setU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, at);
  }

  /** A name (canonical text), compressed against the names written before unless `compress` is false. */
  name(name: string, compress = true): void {
    const labels = splitLabels(name);
    let total = 1;
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".");
      const at = compress && this.compress ? this.offsets.get(suffix) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x3fff) this.offsets.set(suffix, this.len);
      const bytes = labelBytes(labels[i] as string);
      if (bytes.length === 0 || bytes.length > 63)
        throw new EncodeError(`label ${JSON.stringify(labels[i])} of ${name} has ${bytes.length} octets`);
      total += bytes.length + 1;
      if (total > 255) throw new EncodeError(`name ${name} is over 255 octets`);
      this.u8(bytes.length);
      this.raw(bytes);
    }
    this.u8(0);
  }

  record(rr: ResourceRecord): void {
    this.name(rr.name);
    this.u16(RRType[rr.data.type]);
    this.u16(1);
    this.u32(rr.ttl);
    const lengthAt = this.len;
    this.u16(0);
    this.rdata(rr.data);
    this.setU16(lengthAt, this.len - lengthAt - 2);
  }

  private rdata(d: RData): void {
    switch (d.type) {
      case "A":
        for (const part of d.address.split(".")) this.u8(Number(part));
        return;
      case "AAAA":
        this.raw(ipv6Bytes(d.address));
        return;
      case "CNAME":
      case "NS":
      case "PTR":
        this.name(d.target);
        return;
      case "MX":
        this.u16(d.preference);
        this.name(d.exchange);
        return;
      case "TXT":
        for (const s of d.strings) {
          this.u8(s.length);
          this.raw(s);
        }
        return;
      case "SOA":
        this.name(d.mname);
        this.name(d.rname);
        for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(v);
        return;
      case "SRV":
        this.u16(d.priority);
        this.u16(d.weight);
        this.u16(d.port);
        this.name(d.target, false);
        return;
      case "CAA":
        this.u8(d.flags);
        this.u8(d.tag.length);
        this.raw(Buffer.from(d.tag, "ascii"));
        this.raw(d.value);
        return;
      case "DNSKEY":
      case "CDNSKEY":
        this.u16(d.flags);
        this.u8(d.protocol);
        this.u8(d.algorithm);
        this.raw(d.publicKey);
        return;
      case "DS":
      case "CDS":
        this.u16(d.keyTag);
        this.u8(d.algorithm);
        this.u8(d.digestType);
        this.raw(d.digest);
        return;
      case "RRSIG":
        this.rrsigFields(d);
        this.raw(d.signature);
        return;
      case "NSEC":
        this.name(d.next, false);
        this.raw(typeBitmap(d.types));
        return;
    }
  }

  /** The RRSIG RDATA up to its signature; the signer's name is never compressed (RFC 4034 3.1.7). */
  rrsigFields(d: RrsigFields): void {
    this.u16(d.typeCovered);
    this.u8(d.algorithm);
    this.u8(d.labels);
    this.u32(d.originalTtl);
    this.u32(d.expiration);
    this.u32(d.inception);
    this.u16(d.keyTag);
    this.name(d.signer, false);
  }

  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** The 16 octets of an IPv6 address (`::` and an embedded IPv4 tail allowed). */
export function ipv6Bytes(address: string): Buffer {
  let text = address;
  const lastColon = text.lastIndexOf(":");
  const v4 = text.slice(lastColon + 1);
  if (isIPv4(v4)) {
    const p = v4.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const parts = text.split("::");
  const head = parse(parts[0] ?? "");
  const tail = parts.length > 1 ? parse(parts[1] ?? "") : [];
  const groups =
    parts.length > 1
      ? [...head, ...new Array(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail]
      : head;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE((groups[i] ?? 0) & 0xffff, i * 2);
  return out;
}

/** The NSEC type bit maps (RFC 4034 4.1.2): one window per 256 types, each as long as its last type needs. */
export function typeBitmap(types: readonly number[]): Buffer {
  const windows = new Map<number, number[]>();
  for (const t of types) {
    const w = t >> 8;
    const bits = windows.get(w) ?? [];
    bits.push(t & 0xff);
    windows.set(w, bits);
  }
  const parts: Buffer[] = [];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(w) as number[];
    const length = (Math.max(...bits) >> 3) + 1;
    const out = Buffer.alloc(2 + length);
    out[0] = w;
    out[1] = length;
    for (const b of bits) out[2 + (b >> 3)] = (out[2 + (b >> 3)] as number) | (0x80 >> (b & 7));
    parts.push(out);
  }
  return Buffer.concat(parts);
}
