/**
 * IP address text <-> bytes. Byte loops only: these run on every accepted
 * connection, so there are no regexes and no intermediate arrays.
 */

export interface IpAddress {
  readonly family: 4 | 6;
  /** Network byte order: 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_DOT = 0x2e;
const CH_COLON = 0x3a;
const CH_PERCENT = 0x25;

/**
 * Parses dotted-quad IPv4 between `start` and `end` of `text` into an
 * unsigned 32-bit number, or -1. Exactly four decimal parts 0-255; leading
 * zeros are rejected (`010.0.0.1` is octal to some parsers, decimal to others).
 */
export function parseIpv4Number(text: string, start = 0, end = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= CH_0 && c <= CH_9) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - CH_0);
      if (part > 255) return -1;
      digits++;
    } else if (c === CH_DOT) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + part;
}

function hexValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Parses IPv6 text (no zone) between `start` and `end` into 16 bytes, or null. */
function parseIpv6(text: string, start: number, end: number): Uint8Array | null {
  if (end - start < 2) return null;
  const bytes = new Uint8Array(16);
  let i = start;
  let groups = 0;
  let gap = -1; // group index where "::" stands
  if (text.charCodeAt(i) === CH_COLON) {
    if (text.charCodeAt(i + 1) !== CH_COLON) return null;
    gap = 0;
    i += 2;
    if (i === end) return bytes;
  }
  for (;;) {
    const runStart = i;
    let group = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      if (i - runStart === 4) return null;
      group = group * 16 + h;
      i++;
    }
    if (i === runStart) return null;
    if (i < end && text.charCodeAt(i) === CH_DOT) {
      // Embedded IPv4 in the last 32 bits, e.g. ::ffff:192.0.2.1.
      if (groups > 6) return null;
      const v4 = parseIpv4Number(text, runStart, end);
      if (v4 < 0) return null;
      bytes[groups * 2] = v4 >>> 24;
      bytes[groups * 2 + 1] = (v4 >>> 16) & 0xff;
      bytes[groups * 2 + 2] = (v4 >>> 8) & 0xff;
      bytes[groups * 2 + 3] = v4 & 0xff;
      groups += 2;
      i = end;
      break;
    }
    if (groups === 8) return null;
    bytes[groups * 2] = group >>> 8;
    bytes[groups * 2 + 1] = group & 0xff;
    groups++;
    if (i === end) break;
    if (text.charCodeAt(i) !== CH_COLON) return null;
    i++;
    if (i < end && text.charCodeAt(i) === CH_COLON) {
      if (gap >= 0) return null;
      gap = groups;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return null; // trailing single colon
    }
  }
  if (gap < 0) return groups === 8 ? bytes : null;
  if (groups > 7) return null;
  const tail = (groups - gap) * 2;
  bytes.copyWithin(16 - tail, gap * 2, groups * 2);
  bytes.fill(0, gap * 2, 16 - tail);
  return bytes;
}

/** True if the text is a valid IPv6 zone id (after the `%`). */
function validZone(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === CH_PERCENT || c === 0x2f) return false;
  }
  return true;
}

/**
 * Parses an IPv4 or IPv6 address. IPv6 may carry a `%zone`, which is
 * validated and dropped. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) stays family 6
 * here; `normalizeIp` and the matchers treat it as the IPv4 address.
 * Returns null for anything else (never throws).
 */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== "string") return null;
  const len = text.length;
  if (len === 0 || len > 64) return null;
  let colon = false;
  let zone = -1;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === CH_COLON) colon = true;
    else if (c === CH_PERCENT) {
      zone = i;
      break;
    }
  }
  if (!colon) {
    if (zone >= 0) return null;
    const v4 = parseIpv4Number(text, 0, len);
    return v4 < 0 ? null : { family: 4, bytes: ipv4Bytes(v4) };
  }
  const end = zone >= 0 ? zone : len;
  if (zone >= 0 && !validZone(text, zone + 1, len)) return null;
  const bytes = parseIpv6(text, 0, end);
  return bytes ? { family: 6, bytes } : null;
}

export function ipv4Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  bytes[0] = value >>> 24;
  bytes[1] = (value >>> 16) & 0xff;
  bytes[2] = (value >>> 8) & 0xff;
  bytes[3] = value & 0xff;
  return bytes;
}

/** True for 16 bytes of the form ::ffff:a.b.c.d. */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Formats 4 bytes as dotted quad, 16 bytes as RFC 5952 canonical IPv6. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  // Longest run of two or more zero groups (first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && bytes[g * 2] === 0 && bytes[g * 2 + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  let out = "";
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      out += "::";
      g += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(":")) out += ":";
    out += ((bytes[g * 2]! << 8) | bytes[g * 2 + 1]!).toString(16);
  }
  return out;
}

/**
 * Canonical text for an address: dotted quad for IPv4 and IPv4-mapped IPv6,
 * lowercase compressed IPv6 (RFC 5952) otherwise, zone dropped. Null if the
 * text is not an IP address.
 */
export function normalizeIp(text: string): string | null {
  const ip = parseIp(text);
  if (ip === null) return null;
  if (ip.family === 6 && isIpv4Mapped(ip.bytes)) return formatIp(ip.bytes.subarray(12));
  return formatIp(ip.bytes);
}
