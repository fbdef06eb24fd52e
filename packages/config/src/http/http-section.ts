import { z } from "zod";
import { domainPattern, hostPort, port } from "../primitives.js";
import { anyTlsUpstream, upstreamAddress, upstreamTlsSchema } from "./upstream-schema.js";

/** How long a wait may last, in ms (1 ms to 1 day). */
const ms = z.number().int().min(1).max(86_400_000);

/**
 * Per-request and per-connection limits. The section's `limits` are the defaults; a site's
 * `limits` override them field by field (the header and idle deadlines before the Host is known are
 * always the section's).
 */
const limitsShape = {
  /** Largest request body; larger gets 413 (and is never forwarded whole). */
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .max(2 ** 40),
  /** Largest request head (request line and headers); larger gets 431. */
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576),
  /** Most request header fields; more gets 431. */
  maxHeaders: z.number().int().min(8).max(1000),
  /** A whole request head must arrive within this (bytes do not restart it); else 408 and close. */
  headerTimeoutMs: ms,
  /** A keep-alive connection (or HTTP/2 session) with no request in flight closes after this. */
  idleTimeoutMs: ms,
  /** The upstream's response head must arrive within this; else 504. */
  upstreamTimeoutMs: ms,
  /** HTTP/2: most concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreams: z.number().int().min(1).max(1000),
  /** HTTP/2: most streams opened per second per connection; more gets GOAWAY ENHANCE_YOUR_CALM (rapid reset). */
  maxStreamsPerSecond: z.number().int().min(1).max(100_000),
};

const defaults = {
  maxBodyBytes: 10_485_760,
  maxHeaderBytes: 16_384,
  maxHeaders: 100,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  upstreamTimeoutMs: 60_000,
  maxStreams: 100,
  maxStreamsPerSecond: 500,
};

const sectionLimits = z.strictObject({
  maxBodyBytes: limitsShape.maxBodyBytes.default(defaults.maxBodyBytes),
  maxHeaderBytes: limitsShape.maxHeaderBytes.default(defaults.maxHeaderBytes),
  maxHeaders: limitsShape.maxHeaders.default(defaults.maxHeaders),
  headerTimeoutMs: limitsShape.headerTimeoutMs.default(defaults.headerTimeoutMs),
  idleTimeoutMs: limitsShape.idleTimeoutMs.default(defaults.idleTimeoutMs),
  upstreamTimeoutMs: limitsShape.upstreamTimeoutMs.default(defaults.upstreamTimeoutMs),
  maxStreams: limitsShape.maxStreams.default(defaults.maxStreams),
  maxStreamsPerSecond: limitsShape.maxStreamsPerSecond.default(defaults.maxStreamsPerSecond),
  /** Most connections one worker holds; more are closed at once. */
  maxConnections: z.number().int().min(1).default(10_000),
});

/** A site's overrides: only what is per request. */
const siteLimits = z.strictObject({
  maxBodyBytes: limitsShape.maxBodyBytes.optional(),
  headerTimeoutMs: limitsShape.headerTimeoutMs.optional(),
  idleTimeoutMs: limitsShape.idleTimeoutMs.optional(),
  upstreamTimeoutMs: limitsShape.upstreamTimeoutMs.optional(),
});

/** Header rules: `set` replaces (or adds) a field, `remove` drops it; names are case-insensitive. */
const headerRules = z
  .strictObject({
    set: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), z.string()).default({}),
    remove: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

const pathRule = z.strictObject({
  /** Requests whose path starts with this go to this rule's upstreams (longest prefix wins). */
  prefix: z.string().startsWith("/", { error: "a path prefix starts with /" }),
  upstreams: z.array(upstreamAddress).min(1, { error: "needs at least one upstream" }),
  /** Remove the prefix before forwarding (`/api/x` → `/x`). */
  stripPrefix: z.boolean().default(false),
  /** TLS to this rule's https:// upstreams; replaces the site's upstreamTls as a whole. */
  upstreamTls: upstreamTlsSchema.optional(),
});

const fixedCertificate = z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) });

const siteSchema = z.strictObject({
  /** SNI (on the https port) and Host (on the http port) names: exact or `*.` globs. */
  domains: z.array(domainPattern).min(1, { error: "needs at least one domain" }),
  /** `host:port` (plain HTTP/1.1) or `https://host[:port]` (TLS) each; least outstanding requests picks one. */
  upstreams: z.array(upstreamAddress).min(1, { error: "needs at least one upstream" }),
  /** TLS to the https:// upstreams (verification, SNI, CA, client certificate, h2); path rules inherit it. */
  upstreamTls: upstreamTlsSchema.optional(),
  /** `auto`: the names join certs.certificates (needs a certs section); or a fixed PEM pair. */
  tls: z.union([z.literal("auto"), fixedCertificate]).default("auto"),
  /** Plain-HTTP requests get 308 to https (ACME HTTP-01 on the same port keeps reaching certs). */
  redirectHttp: z.boolean().default(true),
  paths: z.array(pathRule).default([]),
  headers: z.strictObject({ request: headerRules, response: headerRules }).prefault({}),
  /** Users allowed in (HTTP Basic); empty: no authentication. Hashes as mail's: `scrypt$N$r$p$salt$hash`. */
  basicAuth: z
    .array(
      z.strictObject({
        user: z
          .string()
          .min(1)
          .regex(/^[^:]+$/, { error: "a user name has no colon" }),
        passwordHash: z.string().startsWith("scrypt$", { error: "is not a scrypt$… hash" }),
      }),
    )
    .default([]),
  /** The realm in WWW-Authenticate. */
  realm: z.string().min(1).default("switchyard"),
  limits: siteLimits.prefault({}),
  /** Active health checks: GET `path` on every upstream each `intervalMs`; 2xx/3xx is healthy. */
  healthCheck: z
    .strictObject({
      path: z.string().startsWith("/").default("/"),
      intervalMs: z.number().int().min(100).max(3_600_000).default(5000),
      timeoutMs: z.number().int().min(50).max(60_000).default(2000),
    })
    .optional(),
});

/**
 * upstreamTls where no upstream it would apply to is https:// is a mistake (the upstreams were
 * likely meant to be https://): refused with its path, for the site and for each path rule.
 */
function upstreamTlsIssues(
  site: z.infer<typeof siteSchema>,
): Array<{ code: "custom"; path: Array<string | number>; message: string }> {
  const issues: Array<{ code: "custom"; path: Array<string | number>; message: string }> = [];
  const message = "applies to https:// upstreams only, and none of its upstreams is one";
  const inheriting = site.paths.filter((p) => p.upstreamTls === undefined).flatMap((p) => p.upstreams);
  if (site.upstreamTls && !anyTlsUpstream([...site.upstreams, ...inheriting]))
    issues.push({ code: "custom", path: ["upstreamTls"], message });
  site.paths.forEach((p, j) => {
    if (p.upstreamTls && !anyTlsUpstream(p.upstreams))
      issues.push({ code: "custom", path: ["paths", j, "upstreamTls"], message });
  });
  return issues;
}

/** The http section: TLS termination and reverse proxying, by site. */
export const httpSectionSchema = z
  .strictObject({
    /** The edge ports the sites' routes listen on (SNI on https, Host on http). */
    ports: z.strictObject({ https: port.default(443), http: port.default(80) }).prefault({}),
    /** The name in `Via` (and the access log's service field). */
    via: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
      .default("switchyard"),
    limits: sectionLimits.prefault({}),
    /**
     * TLS session tickets: every http replica encrypts them with one key shared through NATS KV
     * (bucket `tls-tickets`, sealed like certificate keys), so a client resumes on any replica; a
     * new key replaces it after `rotateMs` (tickets made with the old one get a full handshake).
     */
    sessionTickets: z
      .strictObject({
        rotateMs: z
          .number()
          .int()
          .min(1000)
          .max(7 * 86_400_000)
          .default(43_200_000),
      })
      .prefault({}),
    /**
     * OCSP stapling: a served certificate whose leaf names an OCSP responder (and whose chain
     * carries its issuer) gets the responder's verified answer stapled to handshakes that ask.
     */
    ocsp: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    /**
     * A starting replica joins the edge's pool once it has read the `certs` bucket (so its first
     * handshakes for `tls: auto` sites find their certificate), or after this long without it
     * (NATS away: sites with fixed certificates and plain http are served meanwhile).
     */
    certificatesWaitMs: z.number().int().min(0).max(300_000).default(15_000),
    sites: z.array(siteSchema).min(1, { error: "needs at least one site" }),
    grpc: hostPort.default("127.0.0.1:10950"),
    metrics: hostPort.default("127.0.0.1:10951"),
  })
  .superRefine((http, ctx) => {
    if (http.ports.https === http.ports.http) {
      ctx.addIssue({ code: "custom", path: ["ports", "http"], message: "is the same port as https" });
    }
    const seen = new Map<string, number>();
    http.sites.forEach((site, i) => {
      upstreamTlsIssues(site).forEach((issue) => {
        ctx.addIssue({ ...issue, path: ["sites", i, ...issue.path] });
      });
      site.domains.forEach((domain, j) => {
        const key = domain.toLowerCase().replace(/\.$/, "");
        const first = seen.get(key);
        if (first !== undefined && first !== i) {
          ctx.addIssue({
            code: "custom",
            path: ["sites", i, "domains", j],
            message: `${domain} is already served by sites[${first}]`,
          });
        } else seen.set(key, i);
      });
    });
  });

export type HttpSection = z.infer<typeof httpSectionSchema>;
export type HttpSite = HttpSection["sites"][number];
export type HttpLimits = HttpSection["limits"];
