import { CidrError } from "./errors.js";
import { formatIp, isIpv4Mapped, parseIp } from "./ip.js";

/**
 * A parsed network. `bytes` is always the network address (host bits
 * zeroed); `hostBitsSet` records that the input had host bits, so config
 * validation can warn about `10.0.0.1/24` meaning `10.0.0.0/24`.
 */
export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly hostBitsSet: boolean;
  /** Canonical text, e.g. `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
}

/** Zeroes the bits after `prefix`; returns true if any were set. */
export function maskBytes(bytes: Uint8Array, prefix: number): boolean {
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefix - i * 8;
    const mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    const masked = bytes[i]! & mask;
    if (masked !== bytes[i]) {
      bytes[i] = masked;
      changed = true;
    }
  }
  return changed;
}

function parsePrefixLength(text: string, start: number): number {
  const len = text.length - start;
  if (len < 1 || len > 3) return -1;
  let value = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    if (i > start && value === 0) return -1; // leading zero
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/**
 * Parses `address/prefix` or a bare address (a /32 or /128).
 *
 * - Host bits set (`10.0.0.1/24`) are accepted and masked to the network
 *   (`10.0.0.0/24`), as ipset and nftables interval sets store them; the
 *   result says so in `hostBitsSet`.
 * - IPv4-mapped IPv6 with a prefix of 96 or more (`::ffff:10.0.0.0/104`)
 *   becomes the IPv4 network (`10.0.0.0/8`): a v4 client and its mapped form
 *   are the same address everywhere in this package.
 * - A `%zone` is rejected: a zone has no meaning in a network.
 *
 * Throws CidrError, whose message names the bad value.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== "string") throw new CidrError(String(text), "not a string");
  if (text.length === 0) throw new CidrError(text, "it is empty");
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes("%")) throw new CidrError(text, "a zone index (%...) is not allowed in a CIDR");
  const ip = parseIp(addressText);
  if (ip === null) throw new CidrError(text, `${JSON.stringify(addressText)} is not an IP address`);
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    prefix = parsePrefixLength(text, slash + 1);
    const prefixText = text.slice(slash + 1);
    if (prefix < 0) throw new CidrError(text, `prefix length ${JSON.stringify(prefixText)} is not a number`);
    if (prefix > max) throw new CidrError(text, `prefix length ${prefix} is over ${max}`);
  }
  let family = ip.family;
  let bytes = ip.bytes;
  if (family === 6 && prefix >= 96 && isIpv4Mapped(bytes)) {
    family = 4;
    bytes = bytes.slice(12);
    prefix -= 96;
  }
  const hostBitsSet = maskBytes(bytes, prefix);
  return { family, bytes, prefix, hostBitsSet, text: `${formatIp(bytes)}/${prefix}` };
}

/** True if `cidr` contains the address (IPv4-mapped IPv6 counts as IPv4). */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const parsed = parseIp(ip);
  if (parsed === null) return false;
  let bytes = parsed.bytes;
  if (cidr.family === 4) {
    if (parsed.family === 6) {
      if (!isIpv4Mapped(bytes)) return false;
      bytes = bytes.subarray(12);
    }
  } else if (parsed.family === 4) {
    const mapped = new Uint8Array(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(bytes, 12);
    bytes = mapped;
  }
  const full = cidr.prefix >>> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== cidr.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[full]! & mask) === cidr.bytes[full];
}
