import type { MailRule, MailSection } from "@switchyard/config";

/** A copy for another server: the address, and the relay host a forward rule names (if any). */
export interface RemoteTarget {
  address: string;
  relay?: string;
}

/**
 * What to do with one address: deliver to these local mailboxes (and relay to `remote`, present
 * only when there is something to relay), or refuse with an SMTP reply.
 */
export type RecipientVerdict =
  | { ok: true; mailboxes: string[]; remote?: RemoteTarget[] }
  | { ok: false; code: number; message: string };

type Refusal = Extract<RecipientVerdict, { ok: false }>;

/** Forwards that lead to forwards stop here (a loop in the config). */
const MAX_HOPS = 5;

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^@]*");
  return new RegExp(`^${escaped}$`);
}

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

/** What the policy answers by: a mail section's addresses and rules. */
export type PolicySettings = Pick<MailSection, "domains" | "mailboxes" | "aliases" | "catchAll"> & {
  rules?: readonly MailRule[];
};

/** Recipient and sender rules for the domains, mailboxes, aliases and catch-all of the config. */
export class AddressPolicy {
  private domains!: Set<string>;
  private mailboxes!: Set<string>;
  private aliases!: Map<string, string[]>;
  private rules!: Array<{ rule: MailRule; pattern: RegExp }>;
  private mail!: PolicySettings;

  constructor(mail: PolicySettings) {
    this.use(mail);
  }

  /** Answers by `mail` from now on (a config reload); every holder of this policy sees it at once. */
  use(mail: PolicySettings): void {
    const rules = (mail.rules ?? []).map((rule) => ({ rule, pattern: globToRegExp(rule.match) }));
    this.domains = new Set(mail.domains.map((d) => d.toLowerCase()));
    this.mailboxes = new Set(mail.mailboxes.map((b) => b.address.toLowerCase()));
    this.aliases = new Map(Object.entries(mail.aliases).map(([k, v]) => [k.toLowerCase(), v]));
    this.rules = rules;
    this.mail = mail;
  }

  isOurDomain(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  /**
   * RCPT TO. Our domains: the routing rules in order, then mailboxes, aliases, the catch-all;
   * unknown users get 550 5.1.1. Other domains only for an authenticated sender (submission);
   * anything else, however it is dressed up, 550 5.7.1.
   */
  recipient(address: string, options: { authenticated?: boolean } = {}): RecipientVerdict {
    // RFC 5321 §4.5.1: `RCPT TO:<postmaster>` (no domain) must be accepted; it is the postmaster
    // of the first domain (give `postmaster@<first domain>` an alias or a mailbox).
    const primary = this.mail.domains[0];
    if (address.toLowerCase() === "postmaster" && primary !== undefined)
      return this.route(`postmaster@${primary.toLowerCase()}`, 0);
    const parts = splitPlainAddress(address);
    if (!parts) return relayDenied;
    const normalized = `${parts.local}@${parts.domain}`;
    if (this.isOurDomain(parts.domain)) return this.route(normalized, 0);
    if (options.authenticated) return { ok: true, mailboxes: [], remote: [{ address: normalized }] };
    return relayDenied;
  }

  /** Routes an address of one of our domains. */
  private route(address: string, hops: number): RecipientVerdict {
    if (hops > MAX_HOPS) return { ok: false, code: 554, message: "5.4.6 Routing loop detected" };
    const rule = this.rules.find((r) => r.pattern.test(address))?.rule;
    if (rule?.action === "reject") return { ok: false, code: rule.code, message: rule.text };
    if (rule?.action === "deliver") return { ok: true, mailboxes: [...rule.to] };
    if (rule?.action === "forward") return this.forward(address, rule, hops);
    if (this.mailboxes.has(address)) return { ok: true, mailboxes: [address] };
    const targets = this.aliases.get(address);
    if (targets) return { ok: true, mailboxes: [...targets] };
    if (this.mail.catchAll !== undefined) return { ok: true, mailboxes: [this.mail.catchAll] };
    return { ok: false, code: 550, message: "5.1.1 No such user here" };
  }

  /** A forward rule: its `to` addresses (ours are routed again) or the address itself, via its relay if any. */
  private forward(
    address: string,
    rule: Extract<MailRule, { action: "forward" }>,
    hops: number,
  ): RecipientVerdict {
    const mailboxes: string[] = [];
    const remote: RemoteTarget[] = [];
    for (const target of rule.to.length > 0 ? rule.to : [address]) {
      const domain = target.slice(target.lastIndexOf("@") + 1);
      if (rule.relay !== undefined) {
        remote.push({ address: target, relay: rule.relay });
      } else if (this.isOurDomain(domain)) {
        const next = this.route(target, hops + 1);
        if (!next.ok) return next.code === 554 ? next : misrouted(address, next);
        mailboxes.push(...next.mailboxes);
        remote.push(...(next.remote ?? []));
      } else {
        remote.push({ address: target });
      }
    }
    return remote.length > 0 ? { ok: true, mailboxes, remote } : { ok: true, mailboxes };
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

/** A forward whose local target refuses: the sender is told the address cannot take mail. */
function misrouted(address: string, refusal: Refusal): Refusal {
  return {
    ok: false,
    code: 550,
    message: `5.1.1 ${address} is forwarded to an address that refuses mail (${refusal.code})`,
  };
}
