import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** Hop-by-hop fields (RFC 9110 7.6.1, plus the legacy ones proxies also drop). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** What a client sent about earlier proxies: not believed from anyone (no trusted proxy before us). */
const FORWARDING = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"];

/** The client's fields never sent upstream: hop-by-hop, forwarding claims, Expect (answered here). */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...FORWARDING, "expect"]);

/** Who the request came from, as the edge saw it (its PROXY-protocol source included). */
export interface ClientFacts {
  address: string;
  /** True over TLS (https). */
  secure: boolean;
  /** The Host or :authority the client asked for. */
  host: string;
  /** "1.1" or "2": the client's protocol, for Via. */
  protocol: "1.1" | "2";
}

/** The names a Connection field lists (they are hop-by-hop too), or undefined when it lists none. */
function connectionListed(connection: string | string[] | number | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const listed = Array.isArray(connection) ? connection.join(",") : String(connection);
  let names: Set<string> | undefined;
  for (const name of listed.split(",")) {
    const field = name.trim().toLowerCase();
    if (!field) continue;
    names ??= new Set();
    names.add(field);
  }
  return names;
}

/** Deletes the hop-by-hop fields and every field the Connection header names. */
export function removeHopByHop(headers: OutgoingHttpHeaders | IncomingHttpHeaders): void {
  const listed = connectionListed(headers.connection);
  if (listed) for (const field of listed) delete headers[field];
  for (const name of HOP_BY_HOP) delete headers[name];
}

/**
 * The Forwarded `for` value (RFC 7239 6): IPv6 in quotes and brackets. The address is the edge's
 * (an IP literal): a colon means IPv6, and net.isIPv6's long regex was a visible cost per request.
 */
function forwardedNode(address: string): string {
  return address.includes(":") ? `"[${address}]"` : address;
}

/** A Forwarded parameter value: a token as is, anything else quoted. */
function forwardedValue(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The headers sent upstream: the client's, less hop-by-hop fields, HTTP/2 pseudo-headers, Expect
 * (answered here) and any forwarding fields it claimed; plus X-Forwarded-For/-Proto/-Host, RFC 7239
 * Forwarded and Via from what the edge and TLS told us. Host stays the client's.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  client: ClientFacts,
  via: string,
): Record<string, string | string[]> {
  // One pass that copies only what goes upstream (deleting from an object afterwards is slow).
  const listed = connectionListed(incoming.connection);
  const headers: Record<string, string | string[]> = {};
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ":" */ || NOT_FORWARDED.has(name)) continue;
    if (listed?.has(name)) continue;
    headers[name] = value;
  }
  // HTTP/2 may split cookies over several fields (RFC 9113 8.2.3): one field for HTTP/1.1.
  if (Array.isArray(headers.cookie)) headers.cookie = headers.cookie.join("; ");
  const proto = client.secure ? "https" : "http";
  headers.host = client.host;
  headers["x-forwarded-for"] = client.address;
  headers["x-forwarded-proto"] = proto;
  headers["x-forwarded-host"] = client.host;
  headers.forwarded = `for=${forwardedNode(client.address)};proto=${proto};host=${forwardedValue(client.host)}`;
  headers.via = viaAfter(incoming.via, client.protocol, via);
  // TE is hop-by-hop, but "trailers" is ours to say: an HTTP/2 client that accepts trailers gets the
  // upstream's relayed (gRPC needs them end to end); HTTP/1.1 clients get none, so it is not said.
  if (client.protocol === "2" && acceptsTrailers(incoming.te)) headers.te = "trailers";
  return headers;
}

/** The client's TE lists `trailers` (RFC 9110 10.1.4). */
export function acceptsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  const list = Array.isArray(te) ? te.join(",") : te;
  return list.split(",").some((item) => item.split(";")[0]?.trim().toLowerCase() === "trailers");
}

/** Fields a trailer section may not carry (RFC 9110 6.5.1: framing, routing, controls) besides hop-by-hop. */
const NOT_IN_TRAILERS = new Set([
  "content-length",
  "content-type",
  "content-encoding",
  "host",
  "cache-control",
  "expect",
  "max-forwards",
  "pragma",
  "range",
  "authorization",
  "set-cookie",
]);

/**
 * The upstream's trailers (undici gives HTTP/1.1's as raw pairs, HTTP/2's as an object) as fields for
 * the client: pseudo-fields, hop-by-hop and the fields no trailer may carry dropped. Undefined: none.
 */
export function clientTrailers(raw: unknown): OutgoingHttpHeaders | undefined {
  let trailers: OutgoingHttpHeaders | undefined;
  const add = (name: string, value: string | string[]) => {
    const key = name.toLowerCase();
    if (key.charCodeAt(0) === 58 /* ":" */ || HOP_BY_HOP.has(key) || NOT_IN_TRAILERS.has(key)) return;
    trailers ??= {};
    const previous = trailers[key];
    if (previous === undefined) trailers[key] = value;
    else trailers[key] = [...(Array.isArray(previous) ? previous : [String(previous)]), ...[value].flat()];
  };
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) add(String(raw[i]), String(raw[i + 1]));
  } else if (raw !== null && typeof raw === "object") {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value === "string") add(name, value);
      else if (Array.isArray(value)) add(name, value.map(String));
    }
  }
  return trailers;
}

/** Via with our hop appended. */
export function viaAfter(previous: string | string[] | undefined, protocol: string, via: string): string {
  const hop = `${protocol} ${via}`;
  const before = Array.isArray(previous) ? previous.join(", ") : previous;
  return before ? `${before}, ${hop}` : hop;
}

/** The upstream's response headers for the client: hop-by-hop fields removed, Via added. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  via: string,
): OutgoingHttpHeaders {
  const listed = connectionListed(upstream.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    headers[name] = value;
  }
  headers.via = viaAfter(upstream.via, "1.1", via);
  return headers;
}
