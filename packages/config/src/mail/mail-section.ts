import { z } from "zod";
import { hostPort, port } from "../primitives.js";
import { mailAddress, mailDomain } from "./mail-address.js";
import { authLimitsSchema, checkDkimKeys, dkimKeySchema, inboundSchema } from "./mail-auth-section.js";
import { mailOutboundSchema, mailQueueSchema } from "./mail-queue-schema.js";
import { mailRulesSchema, validateRules } from "./mail-rules-schema.js";

/** `scrypt$N$r$p$salt$hash` (base64), as `hashPassword` in @switchyard/mail writes it. */
const scryptHash = z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, {
  error:
    "is not an scrypt hash (scrypt$N$r$p$salt$hash); make one with `node services/mail/dist/auth/password-hash.js <password>`",
});

const limitsSchema = z.strictObject({
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(25 * 1024 * 1024),
  maxRecipients: z.number().int().min(1).max(10_000).default(100),
  /** Longest command line, bytes (RFC 5321 asks for at least 512). */
  maxLineLength: z.number().int().min(512).max(65_536).default(4096),
  /** A whole session, from greeting to close, however active the client is. */
  sessionTimeoutMs: z.number().int().min(1000).max(86_400_000).default(600_000),
  /**
   * A whole command line (or the TLS handshake after STARTTLS, or the next line of a message) must
   * arrive within this; bytes that do not complete a line do not restart it, so a client dribbling
   * one byte at a time cannot hold a session. Also the idle timeout between commands.
   */
  commandTimeoutMs: z.number().int().min(500).max(3_600_000).default(60_000),
  /** Open sessions per client address, authenticated or not, per replica; 0 = no limit. */
  maxConnectionsPerIp: z.number().int().min(0).default(20),
});

const tlsSchema = z
  .strictObject({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
    error: "certFile and keyFile go together",
  });

/** The mail section: edge ports, the domains and mailboxes served, the spool, limits, TLS. */
export const mailSectionSchema = z
  .strictObject({
    ports: z
      .strictObject({ smtp: port.default(25), submission: port.default(587), smtps: port.default(465) })
      .prefault({}),
    grpc: hostPort.default("127.0.0.1:10920"),
    metrics: hostPort.default("127.0.0.1:10921"),
    /** The name in the greeting, Received headers and the self-signed certificate. */
    hostname: mailDomain.default("localhost"),
    domains: z.array(mailDomain).default([]),
    mailboxes: z
      .array(z.strictObject({ address: mailAddress, passwordHash: scryptHash.optional() }))
      .default([]),
    /** alias address → mailboxes it delivers to. */
    aliases: z.record(z.string(), z.array(mailAddress).min(1)).default({}),
    /** The mailbox that gets mail for unknown addresses in our domains (none: 550). */
    catchAll: mailAddress.optional(),
    /** The spool and Maildir root, shared by every replica. */
    spool: z.string().min(1).default(".switchyard/mail"),
    limits: limitsSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    queue: mailQueueSchema.prefault({}),
    /** SPF, DKIM, DMARC and ARC on port 25. */
    inbound: inboundSchema.prefault({}),
    /** DKIM signing keys for mail submitted on 587/465. */
    dkim: z.array(dkimKeySchema).default([]),
    /** AUTH failures per client IP before AUTH is refused and the IP published on `firewall.ban`. */
    authLimits: authLimitsSchema.prefault({}),
    outbound: mailOutboundSchema.prefault({}),
    rules: mailRulesSchema,
  })
  .superRefine((mail, ctx) => {
    checkDkimKeys(mail, ctx);
    const domains = new Set(mail.domains);
    const mailboxes = new Set<string>();
    const ours = (address: string) => domains.has(address.slice(address.lastIndexOf("@") + 1));
    mail.mailboxes.forEach((box, i) => {
      if (mailboxes.has(box.address)) {
        ctx.addIssue({
          code: "custom",
          path: ["mailboxes", i, "address"],
          message: `${box.address} is listed twice`,
        });
      }
      mailboxes.add(box.address);
      if (!ours(box.address)) {
        ctx.addIssue({
          code: "custom",
          path: ["mailboxes", i, "address"],
          message: `${box.address} is not in domains`,
        });
      }
    });
    for (const [alias, targets] of Object.entries(mail.aliases)) {
      const key = alias.toLowerCase();
      if (!mailAddress.safeParse(alias).success || !ours(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["aliases", alias],
          message: `${JSON.stringify(alias)} is not an address in domains`,
        });
      } else if (mailboxes.has(key)) {
        ctx.addIssue({ code: "custom", path: ["aliases", alias], message: `${alias} is also a mailbox` });
      }
      targets.forEach((target, i) => {
        if (!mailboxes.has(target)) {
          ctx.addIssue({
            code: "custom",
            path: ["aliases", alias, i],
            message: `${target} is not a mailbox (a forward rule sends mail elsewhere)`,
          });
        }
      });
    }
    validateRules(mail.rules, domains, mailboxes, (path, message) =>
      ctx.addIssue({ code: "custom", path, message }),
    );
    if (mail.catchAll !== undefined && !mailboxes.has(mail.catchAll)) {
      ctx.addIssue({ code: "custom", path: ["catchAll"], message: `${mail.catchAll} is not a mailbox` });
    }
  });
