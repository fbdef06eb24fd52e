import { decoyPasswordHash, verifyPassword } from "@switchyard/runtime";

/**
 * HTTP Basic authentication (RFC 7617) against scrypt hashes in mail's format
 * (`scrypt$N$r$p$salt$hash`, base64; `node services/mail/dist/auth/password-hash.js <password>`
 * makes one). An Authorization value that verified is remembered for a minute (a map keyed by the
 * value, at most 1000), so a browser's every request does not pay a 50 ms scrypt; a wrong one is
 * never remembered. An unknown user is checked against a decoy hash, so timing does not tell users.
 */
export class BasicAuth {
  private readonly users: Map<string, string>;
  /** Header values recently verified, with when they stop counting. */
  private readonly verified = new Map<string, number>();
  /** A user that does not exist is checked against this, so the timing does not say which users exist. */
  private readonly decoy = decoyPasswordHash();

  constructor(
    users: Array<{ user: string; passwordHash: string }>,
    readonly realm: string,
  ) {
    this.users = new Map(users.map((u) => [u.user, u.passwordHash]));
  }

  /** The value of WWW-Authenticate on a 401. */
  get challenge(): string {
    return `Basic realm=${JSON.stringify(this.realm)}, charset="UTF-8"`;
  }

  /** True when `authorization` holds a known user and the right password. */
  async check(authorization: string | undefined): Promise<boolean> {
    if (!authorization || !/^basic /i.test(authorization)) return false;
    const now = Date.now();
    const until = this.verified.get(authorization);
    if (until !== undefined && until > now) return true;
    const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const stored = this.users.get(user);
    const ok = await verifyPassword(decoded.slice(colon + 1), stored ?? this.decoy);
    if (!ok || stored === undefined) return false;
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(authorization, now + 60_000);
    return true;
  }
}
