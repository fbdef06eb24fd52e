/**
 * Reads the request line and Host of an HTTP/1.x request head (RFC 9112)
 * without consuming it: the edge routes on Host and path, then hands every
 * byte to the worker. Incremental: call it with every byte received so far.
 * Pure and synchronous; it never throws.
 */
import { normalizeIp, parseIp } from "@switchyard/cidr";

export interface HttpHead {
  kind: "done";
  method: string;
  /** The request-target as sent (origin, absolute, authority or asterisk form). */
  target: string;
  /** The path of the target without its query: "/a/b" for "/a/b?c" and "http://h/a/b?c". */
  path: string;
  /** Lowercase, no port, no trailing dot; IPv6 without brackets. From an absolute-form target if there is one, else the Host header; null if neither names one. */
  host: string | null;
  version: "1.0" | "1.1";
  /** Length of the head, up to and including the blank line. */
  consumed: number;
}

export type HttpHeadResult =
  | { kind: "incomplete" }
  | { kind: "not-http" }
  | { kind: "invalid"; reason: string }
  | HttpHead;

export const HTTP_HEAD_DEFAULT_MAX_BYTES = 8192;
export const HEAD_TOO_LARGE = "request head too large";

const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const INCOMPLETE = Object.freeze({ kind: "incomplete" }) as { kind: "incomplete" };
const NOT_HTTP = Object.freeze({ kind: "not-http" }) as { kind: "not-http" };
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];

/** RFC 9110 tchar: the characters of a method or header name. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

const invalid = (reason: string): HttpHeadResult => ({ kind: "invalid", reason });

/**
 * "not-http" while the bytes cannot begin `method SP target SP HTTP/` (the
 * first byte is often enough: TLS starts with 0x16, PROXY v2 with CR).
 * Once "HTTP/" is seen, anything malformed is "invalid". Line ends must be
 * CRLF; obs-fold, bare CR/LF, control characters, whitespace before a colon,
 * a duplicate Host, and (for HTTP/1.1) a missing Host are invalid, as RFC 9112
 * requires a 400 for them. More than `maxBytes` without the blank line is
 * invalid with the reason "request head too large".
 */
export function parseHttpHead(buf: Uint8Array, maxBytes = HTTP_HEAD_DEFAULT_MAX_BYTES): HttpHeadResult {
  const end = Math.min(buf.length, maxBytes);
  const more = (): HttpHeadResult => (buf.length >= maxBytes ? invalid(HEAD_TOO_LARGE) : INCOMPLETE);

  let i = 0;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === end) return buf.length === 0 ? INCOMPLETE : more();
  if (i === 0 || buf[i] !== SP) return NOT_HTTP;
  const methodEnd = i++;
  const targetStart = i;
  while (i < end && buf[i]! > SP && buf[i]! < 0x7f) i++;
  if (i === end) return more();
  if (i === targetStart || buf[i] !== SP) return NOT_HTTP;
  const targetEnd = i++;
  for (let k = 0; k < HTTP_SLASH.length; k++, i++) {
    if (i === end) return more();
    if (buf[i] !== HTTP_SLASH[k]) return NOT_HTTP;
  }
  // From here on it is HTTP; what is wrong is invalid, not foreign.
  const expect = [-1, 0x2e, -1, CR, LF];
  for (let k = 0; k < expect.length; k++) {
    if (i + k === end) return more();
    const c = buf[i + k]!;
    const ok = expect[k] === -1 ? c >= 0x30 && c <= 0x39 : c === expect[k];
    if (!ok) return invalid(k < 3 ? "malformed HTTP version" : "request line does not end with CRLF");
    if (k === 2 && (buf[i]! !== 0x31 || c > 0x31))
      return invalid(`HTTP/${buf[i]! - 0x30}.${c - 0x30} is not supported`);
  }
  const minor = buf[i + 2]! - 0x30;
  i += 5;

  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const method = view.toString("latin1", 0, methodEnd);
  const target = view.toString("latin1", targetStart, targetEnd);
  const parsedTarget = parseTarget(method, target);
  if (typeof parsedTarget === "string") return invalid(parsedTarget);

  let hostSeen = false;
  let headerHost: string | null = null;
  for (;;) {
    if (i >= end) return more();
    const first = buf[i]!;
    if (first === CR) {
      if (i + 1 === end) return more();
      if (buf[i + 1] !== LF) return invalid("header section has CR without LF");
      i += 2;
      break;
    }
    if (first === SP || first === HTAB)
      return invalid("obsolete line folding or whitespace before a header name");
    const nameStart = i;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    if (i === end) return more();
    if (i === nameStart) return invalid("header line does not start with a field name");
    if (buf[i] !== COLON) {
      return invalid(
        buf[i] === SP || buf[i] === HTAB
          ? "whitespace between header name and colon"
          : "invalid character in header name",
      );
    }
    const nameEnd = i++;
    const valueStart = i;
    while (i < end && buf[i] !== CR) {
      const c = buf[i]!;
      if ((c < SP && c !== HTAB) || c === 0x7f) return invalid("invalid character in header value");
      i++;
    }
    if (i + 1 >= end) return more();
    if (buf[i + 1] !== LF) return invalid("header line has CR without LF");
    if (nameEnd - nameStart === 4 && isHost(buf, nameStart)) {
      if (hostSeen) return invalid("duplicate Host header");
      hostSeen = true;
      let vs = valueStart;
      let ve = i;
      while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
      while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
      const host = hostFromAuthority(view.toString("latin1", vs, ve));
      if (typeof host === "object" && host !== null) return invalid(`invalid Host header: ${host.error}`);
      headerHost = host;
    }
    i += 2;
  }
  const version = minor === 1 ? "1.1" : "1.0";
  if (version === "1.1" && !hostSeen) return invalid("HTTP/1.1 request without a Host header");
  return {
    kind: "done",
    method,
    target,
    path: parsedTarget.path,
    host: parsedTarget.host ?? headerHost,
    version,
    consumed: i,
  };
}

function isHost(buf: Uint8Array, at: number): boolean {
  return (
    (buf[at]! | 0x20) === 0x68 &&
    (buf[at + 1]! | 0x20) === 0x6f &&
    (buf[at + 2]! | 0x20) === 0x73 &&
    (buf[at + 3]! | 0x20) === 0x74
  );
}

/** Path and (for absolute and authority form) host of a request-target, or why it is invalid. */
function parseTarget(
  method: string,
  target: string,
): { path: string; host: string | null | undefined } | string {
  const first = target.charCodeAt(0);
  if (first === 0x2f) return { path: pathOf(target, 0), host: undefined };
  if (target === "*") {
    return method === "OPTIONS" ? { path: "*", host: undefined } : "asterisk-form target is only for OPTIONS";
  }
  if (method === "CONNECT") {
    const host = hostFromAuthority(target);
    if (host === null || typeof host === "object") return "CONNECT target is not host:port";
    return { path: "", host };
  }
  const schemeEnd = target.indexOf("://");
  if (schemeEnd <= 0 || !isScheme(target, schemeEnd))
    return "request target is not a path or an absolute URI";
  const authorityStart = schemeEnd + 3;
  let authorityEnd = authorityStart;
  while (authorityEnd < target.length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    authorityEnd++;
  }
  const authority = target.slice(authorityStart, authorityEnd);
  if (authority.includes("@")) return "userinfo in the request target is not allowed";
  const host = hostFromAuthority(authority);
  if (host === null) return "absolute-form target has no host";
  if (typeof host === "object") return `absolute-form target: ${host.error}`;
  const path = target.charCodeAt(authorityEnd) === 0x2f ? pathOf(target, authorityEnd) : "/";
  return { path, host };
}

function isScheme(text: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i) | 0x20;
    const letter = c >= 0x61 && c <= 0x7a;
    if (i === 0 ? !letter : !letter && !(c >= 0x30 && c <= 0x39) && c !== 0x2b && c !== 0x2d && c !== 0x2e) {
      return false;
    }
  }
  return true;
}

/** The path from `start` up to a query or fragment. */
function pathOf(target: string, start: number): string {
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 0x3f || c === 0x23) break;
    end++;
  }
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

/**
 * `host[:port]` as a lowercase host name or address without port, null when
 * empty, or an error. Names are letters, digits, hyphens, underscores and
 * dots; one trailing dot is dropped. IP literals are canonicalised.
 */
function hostFromAuthority(text: string): string | null | { error: string } {
  if (text.length === 0) return null;
  let hostEnd = text.length;
  let host: string;
  if (text.charCodeAt(0) === 0x5b) {
    const close = text.indexOf("]");
    if (close < 0) return { error: "unclosed [ in IPv6 literal" };
    const literal = text.slice(1, close);
    const ip = literal.includes("%") ? null : parseIp(literal);
    if (ip === null || ip.family !== 6) return { error: "bracketed host is not an IPv6 address" };
    host = normalizeIp(literal) ?? literal;
    hostEnd = close + 1;
  } else {
    const colon = text.indexOf(":");
    if (colon >= 0) hostEnd = colon;
    for (let i = 0; i < hostEnd; i++) {
      const c = text.charCodeAt(i);
      const lower = c | 0x20;
      const ok =
        (lower >= 0x61 && lower <= 0x7a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x2d ||
        c === 0x2e ||
        c === 0x5f;
      if (!ok)
        return { error: "host has a character that is not a letter, digit, hyphen, underscore or dot" };
    }
    host = text.slice(0, hostEnd).toLowerCase();
    if (host.endsWith(".")) host = host.slice(0, -1);
    if (host.length === 0 || host.includes("..") || host.startsWith("."))
      return { error: "host is not a name" };
    if (host.length > 253) return { error: "host is longer than 253 characters" };
  }
  if (hostEnd < text.length) {
    if (text.charCodeAt(hostEnd) !== COLON) return { error: "unexpected text after the host" };
    const port = text.slice(hostEnd + 1);
    if (port.length > 5) return { error: "port is out of range" };
    for (let i = 0; i < port.length; i++) {
      const c = port.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return { error: "port is not a number" };
    }
    if (port.length > 0 && Number(port) > 65535) return { error: "port is out of range" };
  }
  return host;
}
