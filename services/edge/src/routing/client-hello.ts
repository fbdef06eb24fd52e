/**
 * Reads the server name (SNI, RFC 6066) and ALPN list (RFC 7301) from a TLS
 * ClientHello (RFC 8446 §4.1.2) without terminating TLS. Incremental: call it
 * with every byte received so far. Pure and synchronous; it never throws.
 */
import { isIP } from "node:net";

export type ClientHelloResult =
  | { kind: "incomplete" }
  | { kind: "not-tls" }
  | { kind: "invalid"; reason: string }
  | { kind: "done"; serverName: string | null; alpn: string[] };

export interface ClientHelloOptions {
  /** Largest ClientHello message accepted, handshake header included (default 16384). */
  maxHelloBytes?: number;
}

export const CLIENT_HELLO_DEFAULT_MAX_BYTES = 16384;

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
/** TLSPlaintext.length is at most 2^14 (RFC 8446 §5.1). */
const MAX_RECORD = 16384;
const INCOMPLETE = Object.freeze({ kind: "incomplete" }) as { kind: "incomplete" };
const NOT_TLS = Object.freeze({ kind: "not-tls" }) as { kind: "not-tls" };

const invalid = (reason: string): ClientHelloResult => ({ kind: "invalid", reason });

/**
 * "not-tls" from the first byte (anything but a handshake record, 0x16) or the
 * second (a record version whose major is not 3). The ClientHello may be
 * fragmented over several handshake records; they are reassembled up to
 * `maxHelloBytes`. Records after the ClientHello are not looked at.
 */
export function parseClientHello(buf: Uint8Array, options: ClientHelloOptions = {}): ClientHelloResult {
  const maxHello = options.maxHelloBytes ?? CLIENT_HELLO_DEFAULT_MAX_BYTES;
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== HANDSHAKE) return NOT_TLS;
  if (buf.length < 2) return INCOMPLETE;
  if (buf[1] !== 0x03) return NOT_TLS;

  // Walk the records, noting where each fragment's bytes are, until the
  // handshake header says how long the ClientHello is and that much is here.
  const starts: number[] = [];
  const ends: number[] = [];
  let have = 0;
  let need = -1; // bytes of handshake message, header included, once known
  let pos = 0;
  while (need < 0 || have < need) {
    if (pos + 5 > buf.length) return recordHeaderSoFar(buf, pos);
    const header = recordHeader(buf, pos);
    if (header !== null) return invalid(header);
    const length = (buf[pos + 3]! << 8) | buf[pos + 4]!;
    const start = pos + 5;
    const end = Math.min(start + length, buf.length);
    if (end > start) {
      starts.push(start);
      ends.push(end);
      have += end - start;
    }
    if (need < 0 && have >= 1 && byteAt(starts, ends, buf, 0) !== CLIENT_HELLO) {
      return invalid("first handshake message is not a ClientHello");
    }
    if (need < 0 && have >= 4) {
      need =
        4 +
        ((byteAt(starts, ends, buf, 1) << 16) |
          (byteAt(starts, ends, buf, 2) << 8) |
          byteAt(starts, ends, buf, 3));
      if (need > maxHello) return invalid(`ClientHello of ${need} bytes is over the limit of ${maxHello}`);
    }
    if (need >= 0 && have >= need) break;
    if (end < start + length) return INCOMPLETE; // this record is still arriving
    pos = start + length;
  }
  let message: Uint8Array;
  if (starts.length === 1 || ends[0]! - starts[0]! >= need) {
    message = buf.subarray(starts[0]!, starts[0]! + need);
  } else {
    message = new Uint8Array(need);
    let at = 0;
    for (let r = 0; r < starts.length && at < need; r++) {
      const take = Math.min(ends[r]! - starts[r]!, need - at);
      message.set(buf.subarray(starts[r]!, starts[r]! + take), at);
      at += take;
    }
  }
  return parseHelloBody(message, 4, need);
}

/** Checks a record header at `pos` (5 bytes present); returns a reason or null. */
function recordHeader(buf: Uint8Array, pos: number): string | null {
  if (buf[pos] !== HANDSHAKE) return "a non-handshake record arrived before the ClientHello was complete";
  const version = badVersion(buf, pos, 5);
  if (version !== null) return version;
  const length = (buf[pos + 3]! << 8) | buf[pos + 4]!;
  if (length === 0) return "empty handshake record";
  if (length > MAX_RECORD) return `record of ${length} bytes is over 16384`;
  return null;
}

/** A partial record header: reject what is already wrong, else wait. */
function recordHeaderSoFar(buf: Uint8Array, pos: number): ClientHelloResult {
  const n = buf.length - pos;
  if (n >= 1 && buf[pos] !== HANDSHAKE)
    return invalid("a non-handshake record arrived before the ClientHello was complete");
  const version = badVersion(buf, pos, n);
  return version === null ? INCOMPLETE : invalid(version);
}

/** The reason a record version is not TLS, from the bytes present: the same however many arrived. */
function badVersion(buf: Uint8Array, pos: number, n: number): string | null {
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  if (n >= 2 && buf[pos + 1] !== 0x03) return `record version major 0x${hex(buf[pos + 1]!)} is not TLS`;
  if (n >= 3 && buf[pos + 2]! > 0x04) return `record version 0x03${hex(buf[pos + 2]!)} is not TLS`;
  return null;
}

/** Byte `index` of the concatenated fragments. */
function byteAt(starts: number[], ends: number[], buf: Uint8Array, index: number): number {
  for (let r = 0; r < starts.length; r++) {
    const size = ends[r]! - starts[r]!;
    if (index < size) return buf[starts[r]! + index]!;
    index -= size;
  }
  return 0;
}

function parseHelloBody(m: Uint8Array, start: number, end: number): ClientHelloResult {
  let p = start;
  if (end - p < 2 + 32 + 1) return invalid("ClientHello is too short");
  if (m[p] !== 0x03) return invalid("ClientHello legacy_version is not TLS");
  p += 2 + 32; // legacy_version, random
  const sessionId = m[p]!;
  if (sessionId > 32) return invalid("legacy_session_id is longer than 32 bytes");
  p += 1 + sessionId;
  if (p + 2 > end) return invalid("ClientHello ends inside cipher_suites");
  const suites = (m[p]! << 8) | m[p + 1]!;
  if (suites < 2 || suites % 2 !== 0) return invalid("cipher_suites length is not a positive even number");
  p += 2 + suites;
  if (p + 1 > end) return invalid("ClientHello ends inside cipher_suites");
  const compression = m[p]!;
  if (compression < 1) return invalid("legacy_compression_methods is empty");
  p += 1 + compression;
  if (p > end) return invalid("ClientHello ends inside legacy_compression_methods");
  if (p === end) return { kind: "done", serverName: null, alpn: [] }; // no extensions (TLS 1.2 and older)
  if (p + 2 > end) return invalid("ClientHello ends inside the extensions length");
  const extensionsEnd = p + 2 + ((m[p]! << 8) | m[p + 1]!);
  if (extensionsEnd !== end) return invalid("extensions length does not match the ClientHello length");
  p += 2;
  let serverName: string | null = null;
  let sawServerName = false;
  let alpn: string[] | null = null;
  while (p < extensionsEnd) {
    if (p + 4 > extensionsEnd) return invalid("extension header overruns the extensions");
    const type = (m[p]! << 8) | m[p + 1]!;
    const length = (m[p + 2]! << 8) | m[p + 3]!;
    const dataStart = p + 4;
    const dataEnd = dataStart + length;
    if (dataEnd > extensionsEnd) return invalid(`extension ${type} overruns the extensions`);
    if (type === EXT_SERVER_NAME) {
      if (sawServerName) return invalid("server_name extension appears twice");
      sawServerName = true;
      const name = readServerName(m, dataStart, dataEnd);
      if (typeof name !== "string" && name !== null) return invalid(name.error);
      serverName = name;
    } else if (type === EXT_ALPN) {
      if (alpn !== null) return invalid("ALPN extension appears twice");
      const list = readAlpn(m, dataStart, dataEnd);
      if (!Array.isArray(list)) return invalid(list.error);
      alpn = list;
    }
    p = dataEnd;
  }
  return { kind: "done", serverName, alpn: alpn ?? [] };
}

/** The host_name of a server_name extension (null if it holds none), or an error. */
function readServerName(m: Uint8Array, start: number, end: number): string | null | { error: string } {
  if (end - start < 2) return { error: "server_name extension is too short" };
  const listEnd = start + 2 + ((m[start]! << 8) | m[start + 1]!);
  if (listEnd !== end) return { error: "server_name list length does not match the extension" };
  if (listEnd === start + 2) return { error: "server_name list is empty" };
  let p = start + 2;
  let hostName: string | null = null;
  while (p < listEnd) {
    // Every name type defined so far is a uint16-prefixed opaque value.
    if (p + 3 > listEnd) return { error: "server_name entry overruns the list" };
    const nameType = m[p]!;
    const length = (m[p + 1]! << 8) | m[p + 2]!;
    const nameStart = p + 3;
    if (nameStart + length > listEnd) return { error: "server_name entry overruns the list" };
    if (nameType === 0) {
      if (hostName !== null) return { error: "server_name lists two host names" };
      // RFC 6066 forbids IP literals here, but clients that connect by address send them (kdig,
      // GnuTLS): such a client named no host, so it is one without SNI, not a broken one.
      if (isIpLiteral(m, nameStart, nameStart + length)) {
        p = nameStart + length;
        continue;
      }
      const problem = hostNameProblem(m, nameStart, nameStart + length);
      if (problem !== null) return { error: problem };
      hostName = Buffer.from(m.buffer, m.byteOffset + nameStart, length)
        .toString("latin1")
        .toLowerCase();
    }
    p = nameStart + length;
  }
  return hostName;
}

/** Digits and dots (IPv4) or hex digits, colons and dots (IPv6) that make an IP address. */
function isIpLiteral(m: Uint8Array, start: number, end: number): boolean {
  if (end - start < 2 || end - start > 45) return false;
  return isIP(Buffer.from(m.buffer, m.byteOffset + start, end - start).toString("latin1")) !== 0;
}

/**
 * Why the bytes are not a DNS host name (RFC 1123 letters, digits, hyphens;
 * labels of 1-63; at most 253 in all; no trailing dot and no IP literal, per
 * RFC 6066 §3), or null if they are one. IDNs arrive as A-labels (xn--).
 */
function hostNameProblem(m: Uint8Array, start: number, end: number): string | null {
  const length = end - start;
  if (length === 0) return "server name is empty";
  if (length > 253) return "server name is longer than 253 bytes";
  if (m[end - 1] === 0x2e) return "server name has a trailing dot";
  let labelStart = start;
  let allDigits = true;
  for (let i = start; i <= end; i++) {
    const c = i < end ? m[i]! : 0x2e;
    if (c === 0x2e) {
      const labelLength = i - labelStart;
      if (labelLength === 0) return "server name has an empty label";
      if (labelLength > 63) return "server name has a label longer than 63 bytes";
      if (m[labelStart] === 0x2d || m[i - 1] === 0x2d)
        return "server name has a label that starts or ends with a hyphen";
      if (i === end && allDigits) return "server name is an IP address, not a host name";
      labelStart = i + 1;
      allDigits = true;
      continue;
    }
    const digit = c >= 0x30 && c <= 0x39;
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    if (!digit && !letter && c !== 0x2d)
      return "server name has a character that is not a letter, digit, hyphen or dot";
    if (!digit) allDigits = false;
  }
  return null;
}

/** The protocol names of an ALPN extension, or an error. */
function readAlpn(m: Uint8Array, start: number, end: number): string[] | { error: string } {
  if (end - start < 2) return { error: "ALPN extension is too short" };
  const listEnd = start + 2 + ((m[start]! << 8) | m[start + 1]!);
  if (listEnd !== end) return { error: "ALPN list length does not match the extension" };
  if (listEnd === start + 2) return { error: "ALPN list is empty" };
  const names: string[] = [];
  let p = start + 2;
  while (p < listEnd) {
    const length = m[p]!;
    if (length === 0) return { error: "ALPN protocol name is empty" };
    if (p + 1 + length > listEnd) return { error: "ALPN protocol name overruns the list" };
    names.push(Buffer.from(m.buffer, m.byteOffset + p + 1, length).toString("latin1"));
    p += 1 + length;
  }
  return names;
}
