import { maskBytes } from "./cidr.js";
import { formatIp, isIpv4Mapped, parseIp } from "./ip.js";

function checkBits(name: string, bits: number, max: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, not ${bits}`);
  }
}

/**
 * The network a client belongs to, as canonical CIDR text, for grouping
 * clients (rate limits, connection counts): `ipPrefixKey("203.0.113.9", 24, 56)`
 * is `"203.0.113.0/24"`, `ipPrefixKey("2001:db8:1:2::1", 24, 56)` is
 * `"2001:db8:1::/56"`. IPv4-mapped IPv6 is keyed as IPv4. Returns null if
 * `ip` is not an address; throws RangeError for bit counts out of range.
 */
export function ipPrefixKey(ip: string, v4Bits: number, v6Bits: number): string | null {
  checkBits("v4Bits", v4Bits, 32);
  checkBits("v6Bits", v6Bits, 128);
  const parsed = parseIp(ip);
  if (parsed === null) return null;
  let bytes = parsed.bytes;
  let bits = v6Bits;
  if (parsed.family === 4 || isIpv4Mapped(bytes)) {
    bytes = parsed.family === 4 ? bytes : bytes.slice(12);
    bits = v4Bits;
  }
  maskBytes(bytes, bits);
  return `${formatIp(bytes)}/${bits}`;
}
