import { isIP } from "node:net";
import { z } from "zod";

/**
 * The parts of the mail section about who a message is from and who is knocking: inbound
 * verification (SPF, DKIM, DMARC, ARC), DKIM signing keys, and the AUTH failure limit.
 */

/** A DNS server: an IP address with an optional port (`192.0.2.53`, `127.0.0.1:5353`, `[::1]:53`). */
const dnsServer = z.string().refine(
  (text) => {
    const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
    if (m) return isIP(m[1] ?? "") !== 0 && (m[2] === undefined || Number(m[2]) <= 65535);
    return isIP(text) === 6;
  },
  { error: (iss) => `${JSON.stringify(iss.input)} is not a DNS server address (ip, ip:port or [ipv6]:port)` },
);

/** Inbound mail on the MX port: what is checked and what a DMARC reject policy does. */
export const inboundSchema = z.strictObject({
  /** SPF, DKIM, DMARC and ARC for every message on port 25, recorded in Authentication-Results. */
  verify: z.boolean().default(true),
  /** A DMARC failure of a domain publishing `p=reject` is refused with 550 5.7.1 (false: delivered, recorded). */
  dmarcReject: z.boolean().default(true),
  /** The DNS server the checks ask; default: the system's resolvers. */
  resolver: dnsServer.optional(),
  /** The whole verification of one message; past it the client gets 451 and tries again later. */
  timeoutMs: z.number().int().min(100).max(300_000).default(20_000),
});

const labels = /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i;
const selector = z.string().regex(labels, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a DKIM selector (DNS labels)`,
});
const domain = z.string().refine((text) => text.length <= 253 && labels.test(text), {
  error: (iss) => `${JSON.stringify(iss.input)} is not a domain name`,
});

/** One DKIM signing key: mail from `domain` (or a subdomain) submitted on 587/465 is signed with it. */
export const dkimKeySchema = z.strictObject({
  domain: domain.transform((text) => text.toLowerCase()),
  selector: selector.transform((text) => text.toLowerCase()),
  /** PEM private key, RSA (≥ 1024 bits, 2048 recommended) or Ed25519: `yardctl mail dkim-keygen`. */
  keyFile: z.string().min(1),
});

/** Failed AUTH attempts per client IP: past `maxFailures` within `windowMs`, AUTH is refused and the IP reported. */
export const authLimitsSchema = z.strictObject({
  /** Failures allowed per client IP within the window; the next attempt is refused. 0 = no limit. */
  maxFailures: z.number().int().min(0).max(1000).default(5),
  windowMs: z.number().int().min(1000).max(86_400_000).default(900_000),
  /** Published on NATS `firewall.ban` as `seconds` once an IP passes the limit; 0 = publish nothing. */
  banSeconds: z.number().int().min(0).max(31_536_000).default(3600),
});

/** Cross-field checks: DKIM keys only for our domains, one key per domain. */
export function checkDkimKeys(
  mail: { domains: string[]; dkim: Array<{ domain: string }> },
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  mail.dkim.forEach((key, i) => {
    const ours = mail.domains.some((d) => key.domain === d || key.domain.endsWith(`.${d}`));
    if (!ours) {
      ctx.addIssue({
        code: "custom",
        path: ["dkim", i, "domain"],
        message: `${key.domain} is not one of domains (or a subdomain): we sign only our own mail`,
      });
    }
    if (seen.has(key.domain)) {
      ctx.addIssue({
        code: "custom",
        path: ["dkim", i, "domain"],
        message: `${key.domain} has two keys; one signing key per domain (rotate by changing selector and keyFile)`,
      });
    }
    seen.add(key.domain);
  });
}
