import { randomBytes } from "node:crypto";
import type { MailSection } from "@switchyard/config";
import { verifyPassword } from "./password-hash.js";

export type PasswordVerifier = (password: string, stored: string) => Promise<boolean>;

/** scrypt parameters of the config's own hashes (the first one), or hashPassword's defaults. */
function dummyHashFor(mailboxes: MailSection["mailboxes"]): string {
  const sample = mailboxes.find((b) => b.passwordHash)?.passwordHash?.split("$");
  const [N, r, p] = sample && sample.length === 6 ? sample.slice(1, 4) : ["16384", "8", "1"];
  return `scrypt$${N}$${r}$${p}$${randomBytes(16).toString("base64")}$${randomBytes(32).toString("base64")}`;
}

/**
 * AUTH credentials against the config's mailboxes. An unknown user, or a mailbox without a
 * password, is checked against a dummy hash with the same scrypt parameters, so the answer takes
 * as long as for a real user with a wrong password: the reply time does not tell which users exist.
 */
export class CredentialCheck {
  private readonly hashes: Map<string, string | undefined>;
  private readonly dummy: string;

  constructor(
    mailboxes: MailSection["mailboxes"],
    private readonly verify: PasswordVerifier = verifyPassword,
  ) {
    this.hashes = new Map(mailboxes.map((b) => [b.address.toLowerCase(), b.passwordHash]));
    this.dummy = dummyHashFor(mailboxes);
  }

  /** The mailbox address when `password` is right for `username`, else undefined. */
  async check(username: string, password: string): Promise<string | undefined> {
    const address = username.toLowerCase();
    const stored = this.hashes.get(address);
    if (stored === undefined) {
      await this.verify(password, this.dummy);
      return undefined;
    }
    return (await this.verify(password, stored)) ? address : undefined;
  }
}
