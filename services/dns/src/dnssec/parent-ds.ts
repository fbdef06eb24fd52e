import { randomInt } from "node:crypto";
import { DnsError } from "../errors.js";
import { exchangeTcp, exchangeUdp, type UpstreamTarget } from "../forward/upstream-client.js";
import type { RData } from "../wire/records.js";
import { WireWriter } from "../wire/wire-writer.js";

type Ds = Extract<RData, { type: "DS" | "CDS" }>;
const DS = 43;
const TC = 0x0200;
const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** `host`, `host:port` or `[v6]:port` (port 53 by default). */
export function parseServer(text: string): UpstreamTarget {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(text);
  const host = v6?.[1] ?? plain?.[1] ?? text;
  const port = Number(v6?.[2] ?? plain?.[2] ?? 53);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new DnsError(`${JSON.stringify(text)} is not a server (host or host:port)`);
  return { host, port };
}

/** A DS question for `origin` (RD set, so a resolver works as well as the parent's server). */
export function dsQuery(origin: string, id = randomInt(0x10000)): Buffer {
  const w = new WireWriter(false);
  w.u16(id);
  w.u16(0x0100);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  w.name(origin, false);
  w.u16(DS);
  w.u16(1);
  return w.bytes();
}

/** The DS records of the answer section of `response` (any owner name: the question was for one). */
export function dsRecords(response: Buffer): Ds[] {
  if (response.length < 12) throw new DnsError("a DS answer shorter than a header");
  const rcode = response.readUInt16BE(2) & 0x0f;
  if (rcode !== 0)
    throw new DnsError(`the DS question was answered ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}`);
  const qd = response.readUInt16BE(4);
  const an = response.readUInt16BE(6);
  let at = 12;
  for (let i = 0; i < qd; i++) at = skipName(response, at) + 4;
  const out: Ds[] = [];
  for (let i = 0; i < an; i++) {
    at = skipName(response, at);
    if (at + 10 > response.length) throw new DnsError("a DS answer cut short");
    const type = response.readUInt16BE(at);
    const length = response.readUInt16BE(at + 8);
    const rdata = response.subarray(at + 10, at + 10 + length);
    if (rdata.length !== length) throw new DnsError("a DS answer cut short");
    at += 10 + length;
    if (type !== DS || length < 5) continue;
    out.push({
      type: "DS",
      keyTag: rdata.readUInt16BE(0),
      algorithm: rdata[2] as number,
      digestType: rdata[3] as number,
      digest: Buffer.from(rdata.subarray(4)),
    });
  }
  return out;
}

function skipName(msg: Buffer, at: number): number {
  for (let i = 0; i < 128; i++) {
    const len = msg[at];
    if (len === undefined) throw new DnsError("a DS answer cut short");
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2;
    at += len + 1;
  }
  throw new DnsError("a name in the DS answer has too many labels");
}

/** Asks `server` for the DS of `origin`: UDP, then TCP when the answer is truncated. */
export async function askDs(origin: string, server: UpstreamTarget, timeoutMs = 3000): Promise<Ds[]> {
  const query = dsQuery(origin);
  let response = await exchangeUdp(server, query, timeoutMs);
  if (response.readUInt16BE(2) & TC) response = await exchangeTcp(server, query, timeoutMs);
  return dsRecords(response);
}
