import type { MailSection } from "@switchyard/config";

/** What to do with one address: deliver to these local mailboxes, or refuse with an SMTP reply. */
export type RecipientVerdict =
  | { ok: true; mailboxes: string[] }
  | { ok: false; code: number; message: string };

const atom = "[a-z0-9#$&'*+=?^_`{|}~-]+";
const plainAddress = new RegExp(
  `^(${atom}(?:\\.${atom})*)@((?:(?!-)[a-z0-9-]{1,63}(?<!-)\\.)*(?!-)[a-z0-9-]{1,63}(?<!-))$`,
  "i",
);

const relayDenied = { ok: false, code: 550, message: "5.7.1 Relaying denied" } as const;

/**
 * Splits `local@domain` when the address is plain: one `@`, a dot-atom local part without the
 * characters relay tricks hide behind (`%` hack, `!` bang paths, quoted local parts, source routes
 * `@a,@b:user@c`, IP literals `user@[1.2.3.4]`). Anything else is undefined: never ours, never relayed.
 */
export function splitPlainAddress(address: string): { local: string; domain: string } | undefined {
  const m = plainAddress.exec(address);
  if (!m) return undefined;
  return { local: (m[1] as string).toLowerCase(), domain: (m[2] as string).toLowerCase() };
}

/** Recipient and sender rules for the domains, mailboxes, aliases and catch-all of the config. */
export class AddressPolicy {
  private readonly domains: Set<string>;
  private readonly mailboxes: Set<string>;
  private readonly aliases: Map<string, string[]>;

  constructor(private readonly mail: Pick<MailSection, "domains" | "mailboxes" | "aliases" | "catchAll">) {
    this.domains = new Set(mail.domains.map((d) => d.toLowerCase()));
    this.mailboxes = new Set(mail.mailboxes.map((b) => b.address.toLowerCase()));
    this.aliases = new Map(Object.entries(mail.aliases).map(([k, v]) => [k.toLowerCase(), v]));
  }

  isOurDomain(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  /**
   * RCPT TO: local recipients only (relaying for authenticated users comes with the relay queue).
   * Unknown users in our domains get 550 5.1.1; anything else, however it is dressed up, 550 5.7.1.
   */
  recipient(address: string): RecipientVerdict {
    const parts = splitPlainAddress(address);
    if (!parts || !this.isOurDomain(parts.domain)) return relayDenied;
    const normalized = `${parts.local}@${parts.domain}`;
    if (this.mailboxes.has(normalized)) return { ok: true, mailboxes: [normalized] };
    const targets = this.aliases.get(normalized);
    if (targets) return { ok: true, mailboxes: [...targets] };
    if (this.mail.catchAll !== undefined) return { ok: true, mailboxes: [this.mail.catchAll] };
    return { ok: false, code: 550, message: "5.1.1 No such user here" };
  }

  /** MAIL FROM on submission: the authenticated user's own address, or an alias delivering to it. */
  maySendAs(user: string, from: string): boolean {
    const parts = splitPlainAddress(from);
    if (!parts) return false;
    const normalized = `${parts.local}@${parts.domain}`;
    if (normalized === user.toLowerCase()) return true;
    return this.aliases.get(normalized)?.includes(user.toLowerCase()) ?? false;
  }
}
