import { isIP } from "node:net";
import { z } from "zod";
import { port } from "../primitives.js";

/**
 * `mail.queue`: the shared spool's delivery queue. Retries back off exponentially from
 * `retryInitialMs` to `retryMaxMs` (each delay with ±25 % jitter); a message still undelivered after
 * `maxAgeDays` bounces. A replica whose lease (`leaseMs`) runs out is taken for dead and the
 * others deliver what it held.
 */
export const mailQueueSchema = z
  .strictObject({
    maxAgeDays: z.number().positive().max(60).default(5),
    retryInitialMs: z.number().int().min(100).max(86_400_000).default(60_000),
    retryMaxMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 86_400_000)
      .default(3_600_000),
    leaseMs: z.number().int().min(1000).max(3_600_000).default(60_000),
    /** Messages one replica relays at once. */
    concurrency: z.number().int().min(1).max(256).default(8),
  })
  .refine((q) => q.retryMaxMs >= q.retryInitialMs, {
    error: "retryMaxMs must not be below retryInitialMs",
    path: ["retryMaxMs"],
  });

export type MailQueueConfig = z.infer<typeof mailQueueSchema>;

const smarthostSchema = z
  .strictObject({
    host: z.string().min(1),
    port: port.default(587),
    /** `starttls`: STARTTLS required before anything else; `implicit`: TLS from the start (465). */
    tls: z.enum(["starttls", "implicit"]).default("starttls"),
    user: z.string().min(1).optional(),
    /** A file holding the password (a mounted secret), read at start. */
    passwordFile: z.string().min(1).optional(),
  })
  .refine((s) => (s.user === undefined) === (s.passwordFile === undefined), {
    error: "user and passwordFile go together",
  });

/**
 * `mail.outbound`: how the relay queue hands messages on. With a `smarthost`, everything goes there
 * (a forward rule's own `relay` host excepted); without one, to the recipient domain's MX (DNS
 * through `resolver`, STARTTLS when offered, MTA-STS honoured).
 */
export const mailOutboundSchema = z.strictObject({
  smarthost: smarthostSchema.optional(),
  /** The DNS server for MX, address and MTA-STS lookups, `ip:port`; default: the system's. */
  resolver: z
    .string()
    .refine(
      (text) => {
        const [host, p] = splitResolver(text);
        return isIP(host) !== 0 && Number.isInteger(p) && p >= 1 && p <= 65535;
      },
      { error: (iss) => `${JSON.stringify(iss.input)} is not ip:port` },
    )
    .optional(),
  /** The port MX hosts are reached on (25; another only for tests). */
  mxPort: port.default(25),
  /** PEM file of extra CA certificates trusted for MX, smarthost and MTA-STS TLS. */
  caFile: z.string().min(1).optional(),
  mtaSts: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The HTTPS port policies are fetched from (443; another only for tests). */
      port: port.default(443),
    })
    .prefault({}),
  /** A whole SMTP session to another server. */
  timeoutMs: z.number().int().min(1000).max(600_000).default(120_000),
});

/** `1.2.3.4:53` or `[::1]:53` → host, port. */
export function splitResolver(text: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  return m ? [m[1] as string, Number(m[2])] : [text, Number.NaN];
}

export type MailOutboundConfig = z.infer<typeof mailOutboundSchema>;
