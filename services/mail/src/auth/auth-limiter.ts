import { ipPrefixKey, normalizeIp } from "@switchyard/cidr";
import type { MailSection } from "@switchyard/config";

/** What happened to one failed AUTH. */
export interface FailureOutcome {
  /** The client (address, or its /64 for IPv6) now has `maxFailures` failures: refuse and close. */
  blocked: boolean;
  /** First time over the limit in this window: report `client` on `firewall.ban`. */
  ban: boolean;
  /** The address or CIDR the failures are counted for. */
  client: string;
}

interface Window {
  failures: number;
  endsAt: number;
}

/**
 * Failed AUTH attempts per client: IPv4 addresses one by one, IPv6 by /64 (one subscriber's
 * network, where an attacker picks addresses freely). The window starts at a client's first
 * failure and lasts `windowMs`; at `maxFailures` the client is blocked until it ends. A success
 * resets nothing (a valid login must not wipe an attacker's count on a shared address). Per replica.
 */
export class AuthLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limits: MailSection["authLimits"],
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(limits.windowMs, 60_000));
    this.sweeper.unref();
  }

  /** The key a client's failures are counted under: the address, or the /64 of an IPv6 one. */
  static clientOf(ip: string): string {
    const address = normalizeIp(ip) ?? ip;
    return address.includes(":") ? (ipPrefixKey(address, 32, 64) ?? address) : address;
  }

  /** Whether AUTH from `ip` is refused right now (without looking at the credentials). */
  blocked(ip: string): boolean {
    if (this.limits.maxFailures === 0) return false;
    const window = this.current(AuthLimiter.clientOf(ip));
    return window !== undefined && window.failures >= this.limits.maxFailures;
  }

  recordFailure(ip: string): FailureOutcome {
    const client = AuthLimiter.clientOf(ip);
    if (this.limits.maxFailures === 0) return { blocked: false, ban: false, client };
    let window = this.current(client);
    if (!window) {
      window = { failures: 0, endsAt: this.now() + this.limits.windowMs };
      this.windows.set(client, window);
    }
    window.failures += 1;
    const blocked = window.failures >= this.limits.maxFailures;
    return { blocked, ban: window.failures === this.limits.maxFailures, client };
  }

  /** Clients with failures in a current window. */
  get tracked(): number {
    return this.windows.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private current(client: string): Window | undefined {
    const window = this.windows.get(client);
    if (window && window.endsAt <= this.now()) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }

  private sweep(): void {
    const now = this.now();
    for (const [client, window] of this.windows) if (window.endsAt <= now) this.windows.delete(client);
  }
}
