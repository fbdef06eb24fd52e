import { z } from "zod";
import { hostPort, port } from "./primitives.js";

const label = "(?!-)[a-z0-9-]{1,63}(?<!-)";
const certNameRe = new RegExp(`^(\\*\\.)?(${label}\\.)+${label}$|^${label}$`, "i");

/** A name a certificate covers: a host name, or `*.` plus one (a one-label wildcard); lower-cased. */
const certName = z
  .string()
  .refine((text) => text.length <= 253 && certNameRe.test(text.replace(/\.$/, "")), {
    error: (iss) => `${JSON.stringify(iss.input)} is not a host name or *.domain wildcard`,
  })
  .transform((text) => text.toLowerCase().replace(/\.$/, ""));

/** `letsencrypt`, `letsencrypt-staging`, `internal` (the local CA) or an RFC 8555 directory URL. */
const directory = z.union([
  z.enum(["letsencrypt", "letsencrypt-staging", "internal"]),
  z.url({
    protocol: /^https?$/,
    error: "is not letsencrypt, letsencrypt-staging, internal or an http(s) URL",
  }),
]);

const certificateSchema = z.strictObject({
  /** The certificate's first name; its `certs` bucket key. */
  name: certName,
  /** More names on the same certificate (e.g. the apex next to `*.example.com`). */
  altNames: z.array(certName).default([]),
  /** How the CA checks control of the names; wildcards need dns-01. Ignored by `internal`. */
  challenge: z.enum(["http-01", "dns-01"]).default("http-01"),
});

const renewalSchema = z.strictObject({
  /** Without ACME Renewal Information: renew when this fraction of the lifetime has passed. */
  lifetimeFraction: z
    .number()
    .min(0.1)
    .max(0.95)
    .default(2 / 3),
  /** Spread renewals by up to this fraction of the lifetime, earlier (so replicas and names don't align). */
  jitterFraction: z.number().min(0).max(0.2).default(0.05),
  /** How often each replica looks for due certificates. */
  checkIntervalMs: z.number().int().min(100).max(86_400_000).default(60_000),
  /** Backoff after a failed order: from retryMinMs, doubling (with jitter) up to retryMaxMs; Retry-After wins when longer. */
  retryMinMs: z.number().int().min(100).max(86_400_000).default(60_000),
  retryMaxMs: z
    .number()
    .int()
    .min(100)
    .max(7 * 86_400_000)
    .default(6 * 3_600_000),
});

const dns01Schema = z.strictObject({
  /** Authoritative servers (host:port) that must all answer the TXT value before the CA is told to look. */
  servers: z.array(hostPort).default([]),
  /** Longest wait for those answers. */
  propagationTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
});

/** The certs section: the CA, the names, renewal, challenges, and the HTTP port for HTTP-01. */
export const certsSectionSchema = z
  .strictObject({
    /** The plain-HTTP port whose /.well-known/acme-challenge/ requests go to the certs pool. */
    httpPort: port.default(80),
    /** Other requests on httpPort get a 308 redirect to https (an implied route, after the file's routes). */
    redirectHttp: z.boolean().default(true),
    grpc: hostPort.default("127.0.0.1:10930"),
    metrics: hostPort.default("127.0.0.1:10931"),
    directory: directory.default("internal"),
    /** PEM file of CAs to trust for the directory's HTTPS (a private CA; Pebble's in tests). */
    directoryCaFile: z.string().min(1).optional(),
    /** Contact address for the ACME account. */
    email: z.email({ error: "is not an email address" }).optional(),
    /** External account binding, for CAs that require it: the key id and a file holding the base64url HMAC key. */
    eab: z.strictObject({ kid: z.string().min(1), hmacFile: z.string().min(1) }).optional(),
    certificates: z.array(certificateSchema).default([]),
    renewal: renewalSchema.prefault({}),
    dns01: dns01Schema.prefault({}),
    /** How long an order lock lives without being renewed (a crashed replica's lock expires after this). */
    lockTtlMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    /** The internal CA: lifetime of the certificates it signs. */
    internal: z
      .strictObject({
        lifetimeSeconds: z
          .number()
          .int()
          .min(60)
          .default(30 * 86_400),
      })
      .prefault({}),
  })
  .superRefine((certs, ctx) => {
    const seen = new Map<string, number>();
    certs.certificates.forEach((cert, i) => {
      for (const n of [cert.name, ...cert.altNames]) {
        const first = seen.get(n);
        if (first !== undefined && first !== i) {
          ctx.addIssue({
            code: "custom",
            path: ["certificates", i],
            message: `${n} is already in certificates[${first}]`,
          });
        }
        seen.set(n, i);
        if (n.startsWith("*.") && cert.challenge !== "dns-01" && certs.directory !== "internal") {
          ctx.addIssue({
            code: "custom",
            path: ["certificates", i, "challenge"],
            message: `${n} is a wildcard: it needs challenge dns-01`,
          });
        }
      }
    });
    const dns01 = certs.certificates.some((c) => c.challenge === "dns-01");
    if (dns01 && certs.directory !== "internal" && certs.dns01.servers.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["dns01", "servers"],
        message: "dns-01 certificates need the authoritative servers to check (host:port)",
      });
    }
    if (certs.renewal.retryMinMs > certs.renewal.retryMaxMs) {
      ctx.addIssue({ code: "custom", path: ["renewal", "retryMinMs"], message: "is larger than retryMaxMs" });
    }
  });

export type CertsSection = z.infer<typeof certsSectionSchema>;
export type CertificateConfig = z.infer<typeof certificateSchema>;
