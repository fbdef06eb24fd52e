import { isIPv4, isIPv6 } from "node:net";
import { RDataError } from "../errors.js";
import { absolute } from "./names.js";
import type { RData, RRTypeName } from "./records.js";
import { SIGNER_TYPES, txtStrings } from "./records.js";

/** A token of a zone file line: its text (escapes kept unless quoted) and whether it was quoted. */
export interface Token {
  text: string;
  quoted: boolean;
}

const u16 = (t: string | undefined, what: string) => int(t, what, 65535);
const u32 = (t: string | undefined, what: string) => int(t, what, 4294967295);

function int(text: string | undefined, what: string, max: number): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > max) {
    throw new RDataError(`${what}: ${JSON.stringify(text ?? "")} is not a number from 0 to ${max}`);
  }
  return Number(text);
}

/** A TTL in seconds, with optional BIND units (1h30m, 2d). */
export function parseTtl(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) <= 2147483647 ? Number(text) : undefined;
  const m = /^(\d+[smhdw])+$/i.exec(text);
  if (!m) return undefined;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const [, n, u] of text.toLowerCase().matchAll(/(\d+)([smhdw])/g))
    total += Number(n) * (unit[u as string] as number);
  return total <= 2147483647 ? total : undefined;
}

function name(t: Token | undefined, what: string, origin: string): string {
  if (!t || t.text === "") throw new RDataError(`${what} is missing`);
  return absolute(t.text, origin);
}

/** Character-string bytes of a token: escapes (\X, \DDD) resolved. */
export function stringBytes(t: Token): Buffer {
  const out: number[] = [];
  const s = t.text;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && i + 1 < s.length) {
      const digits = /^\d{3}/.exec(s.slice(i + 1));
      if (digits) {
        if (Number(digits[0]) > 255) throw new RDataError(`\\${digits[0]} is not an octet`);
        out.push(Number(digits[0]));
        i += 3;
      } else {
        out.push(s.charCodeAt(i + 1));
        i++;
      }
    } else if (c > 0x7f) out.push(...Buffer.from(s[i] as string, "utf8"));
    else out.push(c);
  }
  return Buffer.from(out);
}

export function parseRData(type: RRTypeName, tokens: Token[], origin: string): RData {
  const n = (i: number) => tokens[i]?.text;
  const count = (want: number) => {
    if (tokens.length !== want) throw new RDataError(`${type} takes ${want} fields, got ${tokens.length}`);
  };
  if (SIGNER_TYPES.has(type))
    throw new RDataError(
      `${type} records are made by the online signer (dnssec in the zone's config), not written`,
    );
  switch (type) {
    case "A":
      count(1);
      if (!isIPv4(n(0) ?? "")) throw new RDataError(`${JSON.stringify(n(0))} is not an IPv4 address`);
      return { type, address: n(0) as string };
    case "AAAA":
      count(1);
      if (!isIPv6(n(0) ?? "")) throw new RDataError(`${JSON.stringify(n(0))} is not an IPv6 address`);
      return { type, address: (n(0) as string).toLowerCase() };
    case "CNAME":
    case "NS":
    case "PTR":
      count(1);
      return { type, target: name(tokens[0], "target", origin) };
    case "MX":
      count(2);
      return { type, preference: u16(n(0), "preference"), exchange: name(tokens[1], "exchange", origin) };
    case "TXT": {
      if (tokens.length === 0) throw new RDataError("TXT needs at least one string");
      const strings: Buffer[] = [];
      for (const t of tokens) strings.push(...txtStrings(stringBytes(t)));
      return { type, strings };
    }
    case "SOA":
      count(7);
      return {
        type,
        mname: name(tokens[0], "mname", origin),
        rname: name(tokens[1], "rname", origin),
        serial: u32(n(2), "serial"),
        refresh: parseTtl(n(3) ?? "") ?? u32(n(3), "refresh"),
        retry: parseTtl(n(4) ?? "") ?? u32(n(4), "retry"),
        expire: parseTtl(n(5) ?? "") ?? u32(n(5), "expire"),
        minimum: parseTtl(n(6) ?? "") ?? u32(n(6), "minimum"),
      };
    case "SRV":
      count(4);
      return {
        type,
        priority: u16(n(0), "priority"),
        weight: u16(n(1), "weight"),
        port: u16(n(2), "port"),
        target: name(tokens[3], "target", origin),
      };
    case "CAA": {
      count(3);
      const tag = n(1) as string;
      if (!/^[a-z0-9]{1,15}$/i.test(tag)) throw new RDataError(`${JSON.stringify(tag)} is not a CAA tag`);
      return {
        type,
        flags: int(n(0), "flags", 255),
        tag: tag.toLowerCase(),
        value: stringBytes(tokens[2] as Token),
      };
    }
    default:
      throw new RDataError(`${type} records cannot be written`);
  }
}

/** Splits RDATA text (from the YAML config) into tokens as a zone file line would. */
export function tokenizeRData(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|((?:[^\s"\\]|\\.)+)/g;
  for (const m of text.matchAll(re)) {
    tokens.push(m[1] !== undefined ? { text: m[1], quoted: true } : { text: m[2] as string, quoted: false });
  }
  return tokens;
}
