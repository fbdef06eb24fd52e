import { isIP } from "node:net";
import { z } from "zod";

/** An upstream address as the config writes it, taken apart. */
export interface UpstreamAddress {
  /**
   * `https` only when written `https://…`; `h2c` for `h2c://…` (HTTP/2 without TLS, prior knowledge:
   * gRPC servers inside a network); `host:port` alone is plain HTTP/1.1.
   */
  scheme: "http" | "https" | "h2c";
  /** A name or an IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** The undici origin: `scheme://host:port` (IPv6 in brackets; `http://` for h2c). */
  origin: string;
}

const ADDRESS = /^(?:(https?|h2c):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/;

/**
 * `host:port` (plain HTTP/1.1), `http://host[:port]`, `https://host[:port]` (TLS) or
 * `h2c://host[:port]` (HTTP/2 over plain TCP); the port defaults to the scheme's (80 for h2c). No
 * path, user or query. Undefined when `text` is none of these.
 */
export function parseUpstreamAddress(text: string): UpstreamAddress | undefined {
  const m = ADDRESS.exec(text);
  if (!m) return undefined;
  const scheme = (m[1] ?? "http") as UpstreamAddress["scheme"];
  if (m[1] === undefined && m[3] === undefined) return undefined; // a bare host needs its port
  const port = m[3] === undefined ? (scheme === "https" ? 443 : 80) : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const bracketed = (m[2] as string).startsWith("[");
  const host = bracketed ? (m[2] as string).slice(1, -1) : (m[2] as string);
  if (bracketed && isIP(host) !== 6) return undefined;
  if (!bracketed && host.includes(":")) return undefined;
  const origin = `${scheme === "h2c" ? "http" : scheme}://${bracketed ? `[${host}]` : host}:${port}`;
  return { scheme, host, port, origin };
}

/** One upstream: `host:port`, `http://host[:port]`, `https://host[:port]` or `h2c://host[:port]`. */
export const upstreamAddress = z.string().refine((text) => parseUpstreamAddress(text) !== undefined, {
  error: (iss) =>
    `${JSON.stringify(iss.input)} is not an upstream (host:port, http://host[:port], https://host[:port] or h2c://host[:port])`,
});

/** A DNS name (no wildcard, no IP): what an upstream's certificate must name. */
const serverName = z
  .string()
  .refine(
    (text) =>
      text.length <= 253 &&
      isIP(text) === 0 &&
      /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$/.test(text),
    { error: (iss) => `${JSON.stringify(iss.input)} is not a DNS name` },
  );

/**
 * How the proxy speaks TLS to the `https://` upstreams of a site or a path rule (plain ones ignore
 * it). Verification is on: node's bundled roots plus `caFile`, and the certificate must name
 * `serverName` (else the upstream's host when it is a name, its IP address when it is one).
 */
export const upstreamTlsSchema = z
  .strictObject({
    /** A PEM file of CA certificates trusted besides the bundled roots (an internal CA). */
    caFile: z.string().min(1).optional(),
    /** The name sent as SNI and checked against the certificate (default: the upstream's host name). */
    serverName: serverName.optional(),
    /** Accept any certificate (logged as a warning at every load). Never the default. */
    insecureSkipVerify: z.boolean().default(false),
    /** A client certificate (PEM, chain after the leaf) for upstreams that ask for one (mutual TLS). */
    clientCertFile: z.string().min(1).optional(),
    clientKeyFile: z.string().min(1).optional(),
    /** Offer HTTP/2 in ALPN as well as HTTP/1.1: the upstream chooses (WebSocket stays on HTTP/1.1). */
    h2: z.boolean().default(false),
  })
  .superRefine((tls, ctx) => {
    if ((tls.clientCertFile === undefined) !== (tls.clientKeyFile === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [tls.clientCertFile === undefined ? "clientCertFile" : "clientKeyFile"],
        message: "clientCertFile and clientKeyFile go together: give both or neither",
      });
    }
    if (tls.insecureSkipVerify && tls.caFile !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["caFile"],
        message: "caFile is unused with insecureSkipVerify: true (nothing is verified); drop one",
      });
    }
  });

export type UpstreamTls = z.infer<typeof upstreamTlsSchema>;

/** True when one of `upstreams` is written `https://…`. */
export function anyTlsUpstream(upstreams: readonly string[]): boolean {
  return upstreams.some((u) => parseUpstreamAddress(u)?.scheme === "https");
}
