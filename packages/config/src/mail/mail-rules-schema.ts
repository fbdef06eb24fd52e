import { z } from "zod";
import { hostPort } from "../primitives.js";
import { hostnameRe, mailAddress } from "./mail-address.js";

/** `local@domain` where the local part may hold `*` globs (`*@a.test`, `list-*@a.test`), lower-cased. */
const rulePattern = z
  .string()
  .refine(
    (text) =>
      /^[a-z0-9#$&'*+=?^_`{|}~.-]+@[^@]+$/i.test(text) && hostnameRe.test(text.slice(text.indexOf("@") + 1)),
    {
      error: (iss) =>
        `${JSON.stringify(iss.input)} is not an address pattern (local@domain, * in the local part)`,
    },
  )
  .transform((text) => text.toLowerCase());

/** An SMTP reply text for a reject rule: one line, printable. */
const replyText = z.string().regex(/^[\x20-\x7e]{1,400}$/, { error: "is not one line of printable ASCII" });

const rejectCodes = [450, 451, 452, 550, 551, 552, 553, 554];

const deliverRule = z.strictObject({
  match: rulePattern,
  action: z.literal("deliver"),
  /** Mailboxes that get the message. */
  to: z.array(mailAddress).min(1),
});

const forwardRule = z
  .strictObject({
    match: rulePattern,
    action: z.literal("forward"),
    /** Addresses the message goes to instead (local ones are routed again); none: the recipient as is. */
    to: z.array(mailAddress).default([]),
    /** `host:port` to hand the message to instead of the recipient domain's MX (or the smarthost). */
    relay: hostPort.optional(),
  })
  .refine((rule) => rule.to.length > 0 || rule.relay !== undefined, {
    error: "a forward rule needs `to` addresses, a `relay`, or both",
  });

const rejectRule = z.strictObject({
  match: rulePattern,
  action: z.literal("reject"),
  /** The reply at RCPT; an enhanced status code at its start is sent as written. */
  text: replyText.default("5.1.1 Recipient rejected"),
  code: z
    .number()
    .int()
    .refine((c) => rejectCodes.includes(c), { error: `is not one of ${rejectCodes.join(", ")}` })
    .default(550),
});

/**
 * `mail.rules`: checked in order before mailboxes, aliases and the catch-all; the first rule whose
 * `match` fits the recipient decides (`deliver` to mailboxes, `forward` to other addresses or a
 * relay host, `reject` with a text).
 */
export const mailRulesSchema = z
  .array(z.discriminatedUnion("action", [deliverRule, forwardRule, rejectRule]))
  .default([]);

export type MailRule = z.infer<typeof mailRulesSchema>[number];

/** Cross-checks against the rest of the section: patterns in our domains, deliver targets are mailboxes. */
export function validateRules(
  rules: readonly MailRule[],
  domains: ReadonlySet<string>,
  mailboxes: ReadonlySet<string>,
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  rules.forEach((rule, i) => {
    const domain = rule.match.slice(rule.match.lastIndexOf("@") + 1);
    if (!domains.has(domain)) {
      addIssue(
        ["rules", i, "match"],
        `${rule.match}: ${domain} is not in domains (a rule never opens a relay)`,
      );
    }
    if (rule.action === "deliver") {
      rule.to.forEach((target, j) => {
        if (!mailboxes.has(target)) addIssue(["rules", i, "to", j], `${target} is not a mailbox`);
      });
    }
  });
}
