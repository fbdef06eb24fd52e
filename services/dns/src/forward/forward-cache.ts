import { skipName } from "../wire/query-parser.js";

/** Longest time a forwarded answer is kept, whatever its TTLs say. */
const MAX_CACHE_SECONDS = 86_400;

interface Cached {
  bytes: Buffer;
  ttlOffsets: number[];
  storedAt: number;
  expiresAt: number;
}

/**
 * Forwarded answers by question, kept for their smallest TTL (negative answers: their SOA's) and
 * served with every TTL lowered by the time they spent here, as a resolver's cache does. Bounded:
 * the least recently used entry goes first.
 */
export class ForwardCache {
  private readonly entries = new Map<string, Cached>();

  constructor(
    private readonly size: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Buffer | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    const now = this.now();
    if (now >= hit.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, hit);
    const age = Math.floor((now - hit.storedAt) / 1000);
    const out = Buffer.from(hit.bytes);
    for (const at of hit.ttlOffsets) out.writeUInt32BE(Math.max(0, out.readUInt32BE(at) - age), at);
    return out;
  }

  /** Keeps a NOERROR or NXDOMAIN answer that is whole (no TC) and has records with TTLs. */
  set(key: string, response: Buffer): void {
    if (this.size === 0 || response.length < 12) return;
    const flags = response.readUInt16BE(2);
    const rcode = flags & 0xf;
    if (flags & 0x0200 || (rcode !== 0 && rcode !== 3)) return;
    const ttls = recordTtls(response);
    if (!ttls || ttls.min === 0) return;
    const now = this.now();
    this.entries.delete(key);
    this.entries.set(key, {
      bytes: Buffer.from(response),
      ttlOffsets: ttls.offsets,
      storedAt: now,
      expiresAt: now + Math.min(ttls.min, MAX_CACHE_SECONDS) * 1000,
    });
    while (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get count(): number {
    return this.entries.size;
  }
}

/** Where the TTL of each record (OPT aside) sits, and the smallest; undefined when malformed or empty. */
export function recordTtls(msg: Buffer): { offsets: number[]; min: number } | undefined {
  const qd = msg.readUInt16BE(4);
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > msg.length) return undefined;
    pos += 4;
  }
  const offsets: number[] = [];
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < records; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 10 > msg.length) return undefined;
    const type = msg.readUInt16BE(pos);
    const end = pos + 10 + msg.readUInt16BE(pos + 8);
    if (end > msg.length) return undefined;
    if (type !== 41) {
      offsets.push(pos + 4);
      min = Math.min(min, msg.readUInt32BE(pos + 4));
    }
    pos = end;
  }
  return offsets.length > 0 ? { offsets, min } : undefined;
}
