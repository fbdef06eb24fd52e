/**
 * PROXY protocol v1 (text) and v2 (binary) headers, as specified by HAProxy's
 * doc/proxy-protocol.txt: an incremental parser for what a trusted load
 * balancer sends ahead of a connection, and encoders for what the edge sends
 * to `forward` backends. Pure and synchronous; the parser never throws.
 */
import { formatIp, isIpv4Mapped, parseIp } from "@switchyard/cidr";

export interface ProxyEndpoint {
  address: string;
  port: number;
}

/** A v2 Type-Length-Value extension; `value` is a view into the input. */
export interface ProxyTlv {
  type: number;
  value: Uint8Array;
}

export type ProxyFamily = "inet" | "inet6" | "unix" | "unspec";
export type ProxyTransport = "stream" | "dgram" | "unspec";

export interface ProxyHeader {
  kind: "done";
  version: 1 | 2;
  /** "local": a health check by the proxy itself; use the socket's own endpoints. */
  command: "proxy" | "local";
  family: ProxyFamily;
  transport: ProxyTransport;
  /** Absent for LOCAL, v1 UNKNOWN and v2 UNSPEC: use the socket's own endpoints then. */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** v2 TLVs, only when the header carries any. */
  tlvs?: ProxyTlv[];
  /** Header length in bytes; the rest of the buffer is the client's payload. */
  consumed: number;
}

export type ProxyResult =
  | { kind: "incomplete" }
  | { kind: "absent" }
  | { kind: "invalid"; reason: string }
  | ProxyHeader;

export interface ProxyParseOptions {
  /** Largest v2 header accepted, signature to last TLV (default 1536; the format allows 65551). */
  maxV2Bytes?: number;
}

/** v1 line limit including CRLF: "PROXY UNKNOWN <v6> <v6> 65535 65535\r\n". */
export const PROXY_V1_MAX_BYTES = 107;
export const PROXY_V2_DEFAULT_MAX_BYTES = 1536;

const V1_SIGNATURE = Buffer.from("PROXY ", "latin1");
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PROTOCOLS = ["TCP4 ", "TCP6 ", "UNKNOWN"];
const CR = 0x0d;
const LF = 0x0a;
const INCOMPLETE = Object.freeze({ kind: "incomplete" }) as { kind: "incomplete" };
const ABSENT = Object.freeze({ kind: "absent" }) as { kind: "absent" };

const invalid = (reason: string): ProxyResult => ({ kind: "invalid", reason });

/**
 * Parses a PROXY header at the start of `buf` (all bytes received so far).
 * "absent" as soon as the first bytes match neither signature (one byte is
 * often enough); "incomplete" while they could still become a header.
 */
export function parseProxyHeader(buf: Uint8Array, options: ProxyParseOptions = {}): ProxyResult {
  if (buf.length === 0) return INCOMPLETE;
  let v1 = true;
  let v2 = true;
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  for (let i = 0; i < n; i++) {
    if (v1 && i < V1_SIGNATURE.length && buf[i] !== V1_SIGNATURE[i]) v1 = false;
    if (v2 && buf[i] !== V2_SIGNATURE[i]) v2 = false;
  }
  if (v1) return buf.length >= V1_SIGNATURE.length ? parseV1(buf) : INCOMPLETE;
  if (v2) {
    if (buf.length < V2_SIGNATURE.length) return INCOMPLETE;
    return parseV2(buf, options.maxV2Bytes ?? PROXY_V2_DEFAULT_MAX_BYTES);
  }
  // "PROXY" followed by something other than a space claims to be v1 and is broken.
  if (buf.length >= V1_SIGNATURE.length && startsWith(buf, V1_SIGNATURE, 5)) {
    return invalid("PROXY is not followed by a space");
  }
  return ABSENT;
}

function startsWith(buf: Uint8Array, prefix: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

function parseV1(buf: Uint8Array): ProxyResult {
  // Reject a wrong protocol word as soon as it shows, not only at CRLF.
  let protocol = -1;
  for (let p = 0; p < V1_PROTOCOLS.length; p++) {
    const word = V1_PROTOCOLS[p]!;
    let ok = true;
    for (let j = 0; j < word.length && 6 + j < buf.length; j++) {
      if (buf[6 + j] !== word.charCodeAt(j)) {
        ok = false;
        break;
      }
    }
    if (ok) {
      protocol = p;
      break;
    }
  }
  if (protocol < 0) return invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const limit = Math.min(buf.length, PROXY_V1_MAX_BYTES);
  let cr = -1;
  for (let i = V1_SIGNATURE.length; i < limit; i++) {
    const c = buf[i]!;
    if (c === CR) {
      cr = i;
      break;
    }
    if (c === LF) return invalid("v1 line ends with LF without CR");
    if (c < 0x20 || c > 0x7e) return invalid("v1 line has a byte that is not printable ASCII");
  }
  if (cr < 0)
    return buf.length >= PROXY_V1_MAX_BYTES ? invalid("v1 line has no CRLF within 107 bytes") : INCOMPLETE;
  if (cr + 1 >= PROXY_V1_MAX_BYTES) return invalid("v1 line has no CRLF within 107 bytes");
  if (cr + 1 >= buf.length) return INCOMPLETE;
  if (buf[cr + 1] !== LF) return invalid("v1 line has CR without LF");
  const consumed = cr + 2;
  const line = Buffer.from(buf.buffer, buf.byteOffset, cr).toString("latin1");
  if (protocol === 2) {
    // UNKNOWN: anything up to CRLF is ignored, but it must still be a word of its own.
    if (line.length > 13 && line.charCodeAt(13) !== 0x20)
      return invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN");
    return { kind: "done", version: 1, command: "proxy", family: "unspec", transport: "unspec", consumed };
  }
  const fields = line.slice(11).split(" ");
  if (fields.length !== 4)
    return invalid("v1 line needs exactly four fields after the protocol, single-spaced");
  const family = protocol === 0 ? 4 : 6;
  const source = v1Address(fields[0]!, family);
  const destination = v1Address(fields[1]!, family);
  if (source === null) return invalid(`v1 source address is not ${family === 4 ? "IPv4" : "IPv6"}`);
  if (destination === null) return invalid(`v1 destination address is not ${family === 4 ? "IPv4" : "IPv6"}`);
  const sourcePort = decimalPort(fields[2]!);
  const destinationPort = decimalPort(fields[3]!);
  if (sourcePort < 0) return invalid("v1 source port is not a number from 0 to 65535 without leading zeros");
  if (destinationPort < 0)
    return invalid("v1 destination port is not a number from 0 to 65535 without leading zeros");
  return {
    kind: "done",
    version: 1,
    command: "proxy",
    family: family === 4 ? "inet" : "inet6",
    transport: "stream",
    source: { address: source, port: sourcePort },
    destination: { address: destination, port: destinationPort },
    consumed,
  };
}

/** Canonical text of a v1 address of the given family, or null. */
function v1Address(text: string, family: 4 | 6): string | null {
  if (text.includes("%")) return null;
  const ip = parseIp(text);
  if (ip === null || ip.family !== family) return null;
  return formatAddress(ip.bytes);
}

/** IPv4-mapped IPv6 is written as the IPv4 address it is. */
function formatAddress(bytes: Uint8Array): string {
  return formatIp(isIpv4Mapped(bytes) ? bytes.subarray(12) : bytes);
}

function decimalPort(text: string): number {
  if (text.length === 0 || text.length > 5) return -1;
  if (text.length > 1 && text.charCodeAt(0) === 0x30) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value <= 65535 ? value : -1;
}

const FAMILIES: readonly ProxyFamily[] = ["unspec", "inet", "inet6", "unix"];
const TRANSPORTS: readonly ProxyTransport[] = ["unspec", "stream", "dgram"];
const ADDRESS_BLOCK = [0, 12, 36, 216];

function parseV2(buf: Uint8Array, maxBytes: number): ProxyResult {
  if (buf.length < 13) return INCOMPLETE;
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`v2 version ${versionCommand >> 4} is not 2`);
  const commandCode = versionCommand & 0x0f;
  if (commandCode > 1) return invalid(`v2 command ${commandCode} is neither LOCAL (0) nor PROXY (1)`);
  if (buf.length < 14) return INCOMPLETE;
  const familyCode = buf[13]! >> 4;
  const transportCode = buf[13]! & 0x0f;
  if (familyCode > 3) return invalid(`v2 address family ${familyCode} is not defined`);
  if (transportCode > 2) return invalid(`v2 transport protocol ${transportCode} is not defined`);
  if (buf.length < 16) return INCOMPLETE;
  const length = (buf[14]! << 8) | buf[15]!;
  const consumed = 16 + length;
  if (consumed > maxBytes) return invalid(`v2 header of ${consumed} bytes is over the limit of ${maxBytes}`);
  // Address block size: 0 for AF_UNSPEC/UNSPEC, -1 when the layout is not
  // defined (a family without a transport or the reverse).
  const block =
    familyCode === 0 && transportCode === 0
      ? 0
      : familyCode === 0 || transportCode === 0
        ? -1
        : ADDRESS_BLOCK[familyCode]!;
  const proxy = commandCode === 1;
  if (proxy && length < block) {
    return invalid(
      `v2 length ${length} is shorter than the ${FAMILIES[familyCode]} address block (${block} bytes)`,
    );
  }
  if (buf.length < consumed) return INCOMPLETE;
  const header: ProxyHeader = {
    kind: "done",
    version: 2,
    command: proxy ? "proxy" : "local",
    family: "unspec",
    transport: "unspec",
    consumed,
  };
  // TLVs follow the address block; where the block's size is not known
  // (LOCAL may declare a family and send no block) the rest is skipped.
  if (block >= 0 && length >= block) {
    const tlvs = parseTlvs(buf, 16 + block, consumed);
    if (typeof tlvs === "string") return invalid(tlvs);
    if (tlvs.length > 0) header.tlvs = tlvs;
  }
  // LOCAL: the receiver must use the real endpoints and ignore the family.
  if (!proxy || block <= 0) return header;
  header.family = FAMILIES[familyCode]!;
  header.transport = TRANSPORTS[transportCode]!;
  if (familyCode === 3) {
    header.source = { address: unixPath(buf, 16), port: 0 };
    header.destination = { address: unixPath(buf, 16 + 108), port: 0 };
    return header;
  }
  const size = familyCode === 1 ? 4 : 16;
  const ports = 16 + 2 * size;
  header.source = {
    address: formatAddress(buf.subarray(16, 16 + size)),
    port: (buf[ports]! << 8) | buf[ports + 1]!,
  };
  header.destination = {
    address: formatAddress(buf.subarray(16 + size, ports)),
    port: (buf[ports + 2]! << 8) | buf[ports + 3]!,
  };
  return header;
}

/** TLVs between `start` and `end`, each bounded by the header; an error string if one overruns. */
function parseTlvs(buf: Uint8Array, start: number, end: number): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let i = start;
  while (i < end) {
    if (end - i < 3) return "v2 TLV header overruns the declared length";
    const length = (buf[i + 1]! << 8) | buf[i + 2]!;
    if (i + 3 + length > end) return `v2 TLV of type 0x${buf[i]!.toString(16)} overruns the declared length`;
    tlvs.push({ type: buf[i]!, value: buf.subarray(i + 3, i + 3 + length) });
    i += 3 + length;
  }
  return tlvs;
}

/** A 108-byte sockaddr_un path, up to its first NUL. */
function unixPath(buf: Uint8Array, start: number): string {
  let end = start;
  while (end < start + 108 && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString("utf8");
}
