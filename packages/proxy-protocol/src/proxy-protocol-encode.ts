/** PROXY protocol v1/v2 headers, written: for the forward proxy's backends and for tests. */
import { formatIp, isIpv4Mapped, parseIp } from "@switchyard/cidr";
import { type ProxyEndpoint, type ProxyTlv, V2_SIGNATURE } from "./proxy-protocol.js";

export interface ProxyV1Info {
  source: ProxyEndpoint;
  destination: ProxyEndpoint;
}

export interface ProxyV2Info {
  /** Default "proxy"; "local" carries no addresses. */
  command?: "proxy" | "local";
  /** Default "stream" (TCP). */
  transport?: "stream" | "dgram";
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  tlvs?: ProxyTlv[];
}

/** Both endpoints as bytes of one family (a v4 and a v6 address both become v6), or null. */
function endpointBytes(source: ProxyEndpoint, destination: ProxyEndpoint): [Uint8Array, Uint8Array] | null {
  const a = parseIp(source.address);
  const b = parseIp(destination.address);
  if (a === null || b === null || !validPort(source.port) || !validPort(destination.port)) return null;
  let src = a.bytes;
  let dst = b.bytes;
  if (src.length === 16 && isIpv4Mapped(src)) src = src.subarray(12);
  if (dst.length === 16 && isIpv4Mapped(dst)) dst = dst.subarray(12);
  if (src.length !== dst.length) {
    if (src.length === 4) src = mapped(src);
    else dst = mapped(dst);
  }
  return [src, dst];
}

function mapped(v4: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(v4, 12);
  return bytes;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/**
 * A v1 line: "PROXY TCP4 ..." or "PROXY TCP6 ..." (IPv4-mapped addresses are
 * written as IPv4; mixed families as IPv6). With `null`, or when an endpoint
 * is not an IP address and port (a socket that already closed), writes
 * "PROXY UNKNOWN\r\n", which the spec reserves for exactly that case and
 * which tells the receiver to use the connection's own endpoints.
 */
export function encodeProxyV1(info: ProxyV1Info | null): Buffer {
  const pair = info === null ? null : endpointBytes(info.source, info.destination);
  if (pair === null || info === null) return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  const protocol = pair[0].length === 4 ? "TCP4" : "TCP6";
  const line = `PROXY ${protocol} ${formatIp(pair[0])} ${formatIp(pair[1])} ${info.source.port} ${info.destination.port}\r\n`;
  return Buffer.from(line, "latin1");
}

/**
 * A v2 header. PROXY with two IP endpoints gives AF_INET or AF_INET6 (mixed
 * families as AF_INET6 with IPv4-mapped addresses); without usable endpoints,
 * AF_UNSPEC, so the receiver uses the connection's own. LOCAL carries no
 * address block. TLVs are appended as given; throws RangeError if they make
 * the header longer than the format's 16 + 65535 bytes.
 */
export function encodeProxyV2(info: ProxyV2Info): Buffer {
  const local = info.command === "local";
  const pair =
    local || !info.source || !info.destination ? null : endpointBytes(info.source, info.destination);
  let tlvLength = 0;
  for (const tlv of info.tlvs ?? []) tlvLength += 3 + tlv.value.length;
  const blockLength = pair === null ? 0 : pair[0].length === 4 ? 12 : 36;
  const length = blockLength + tlvLength;
  if (length > 0xffff)
    throw new RangeError(`PROXY v2 address block and TLVs of ${length} bytes are over 65535`);
  const out = Buffer.alloc(16 + length);
  V2_SIGNATURE.copy(out, 0);
  out[12] = local ? 0x20 : 0x21;
  if (pair !== null) {
    out[13] = (pair[0].length === 4 ? 0x10 : 0x20) | (info.transport === "dgram" ? 0x02 : 0x01);
  }
  out.writeUInt16BE(length, 14);
  let at = 16;
  if (pair !== null && info.source && info.destination) {
    out.set(pair[0], at);
    out.set(pair[1], at + pair[0].length);
    at += 2 * pair[0].length;
    out.writeUInt16BE(info.source.port, at);
    out.writeUInt16BE(info.destination.port, at + 2);
    at += 4;
  }
  for (const tlv of info.tlvs ?? []) {
    out[at] = tlv.type;
    out.writeUInt16BE(tlv.value.length, at + 1);
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  return out;
}
