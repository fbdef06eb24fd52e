import { BitTrie } from "./bit-trie.js";
import { type Cidr, parseCidr } from "./cidr.js";
import { isIpv4Mapped, parseIp, parseIpv4Number } from "./ip.js";

/** ::ffff:0.0.0.0, the IPv4-mapped range /96. */
const MAPPED_RANGE = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * A set of networks to test client addresses against (allow and block
 * lists). Built once from config; `has` is a trie walk of at most 32 or 128
 * steps, so thousands of entries cost no more per lookup than ten.
 *
 * An IPv4 address and its IPv4-mapped IPv6 form (`::ffff:1.2.3.4`, what a
 * dual-stack socket reports) are the same client: each matches v4 entries,
 * mapped entries (`::ffff:10.0.0.0/104` is stored as `10.0.0.0/8`), and v6
 * entries covering the whole mapped range `::ffff:0:0/96` (such as `::/0`).
 */
export class CidrSet {
  /** Number of distinct networks after normalisation (duplicates count once). */
  readonly size: number;
  private readonly v4 = new BitTrie();
  private readonly v6 = new BitTrie();
  /** True if a v6 entry covers all of ::ffff:0:0/96, hence every IPv4 client. */
  private readonly v6CoversAllV4: boolean;

  /** Throws CidrError for an entry that does not parse. */
  constructor(cidrs: Iterable<string | Cidr>) {
    const seen = new Set<string>();
    for (const entry of cidrs) {
      // Objects are re-read from their canonical text, so a hand-built Cidr
      // gets the same normalisation (masking, mapped -> v4) as a string.
      const cidr = parseCidr(typeof entry === "string" ? entry : entry.text);
      if (seen.has(cidr.text)) continue;
      seen.add(cidr.text);
      (cidr.family === 4 ? this.v4 : this.v6).insert(cidr.bytes, cidr.prefix);
    }
    this.size = seen.size;
    // After normalisation, a v6 entry that overlaps the mapped range has a
    // prefix under 96 and so covers all of it.
    this.v6CoversAllV4 = this.v6.covers(MAPPED_RANGE, 0, 96);
  }

  /** True if the address is in one of the networks. False for anything that is not an address. */
  has(ip: string): boolean {
    if (typeof ip !== "string") return false;
    if (ip.indexOf(":") < 0) {
      const value = parseIpv4Number(ip);
      return value >= 0 && (this.v6CoversAllV4 || this.v4.coversUint32(value));
    }
    const parsed = parseIp(ip);
    if (parsed === null) return false;
    if (isIpv4Mapped(parsed.bytes)) return this.v6CoversAllV4 || this.v4.covers(parsed.bytes, 12, 32);
    return this.v6.covers(parsed.bytes, 0, 128);
  }
}
