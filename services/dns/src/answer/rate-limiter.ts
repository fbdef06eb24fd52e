import { CidrSet, ipPrefixKey } from "@switchyard/cidr";

export interface RateLimitOptions {
  /** Responses per second per (client network, answer class); 0 turns limiting off. */
  responsesPerSecond: number;
  /** Every Nth limited response goes out truncated (TC=1) instead of not at all; 0 never. */
  slip: number;
  /** A network limited this long without a break is reported for a ban. */
  windowSeconds: number;
  /** Clients never limited (CIDR). */
  exempt: readonly string[];
  /** Ban length to report; 0 reports none. */
  banSeconds: number;
}

export const Verdict = { SEND: 0, SLIP: 1, DROP: 2 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export interface RateLimitHooks {
  /** A network stayed over the limit for a whole window (at most once per window per network). */
  ban?: (network: string, seconds: number) => void;
  dropped?: () => void;
  slipped?: () => void;
}

interface Bucket {
  tokens: number;
  last: number;
  /** Limited responses so far, for the slip count. */
  limited: number;
  /** When the current run of limiting began (0: not limiting), and the last limited response. */
  since: number;
  lastLimited: number;
}

/** Buckets kept at most; past it, idle ones are dropped (and all of them if that is not enough). */
const MAX_BUCKETS = 200_000;

/**
 * Response rate limiting against amplification, as NSD and Knot do it: a token bucket per client
 * network (IPv4 /24, IPv6 /56) and answer class (the same answer, the same NXDOMAIN zone, the same
 * wildcard or delegation, errors). Over the rate, responses are dropped, except every `slip`-th,
 * which goes out truncated so a real client retries over TCP (which is never limited).
 */
export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly bans = new Map<string, number>();
  private readonly exempt: CidrSet;
  private readonly burst: number;
  private lastSweep = 0;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly hooks: RateLimitHooks = {},
    private readonly now: () => number = Date.now,
  ) {
    this.exempt = new CidrSet(options.exempt);
    this.burst = options.responsesPerSecond;
  }

  get enabled(): boolean {
    return this.options.responsesPerSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** What to do with a response of `answerClass` to `address`. */
  check(address: string, answerClass: string): Verdict {
    if (!this.enabled || (this.exempt.size > 0 && this.exempt.has(address))) return Verdict.SEND;
    const network = networkOf(address);
    const key = `${network}|${answerClass}`;
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      b = { tokens: this.burst, last: now, limited: 0, since: 0, lastLimited: 0 };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.last) * this.options.responsesPerSecond) / 1000);
      b.last = now;
    }
    if (b.since !== 0 && now - b.lastLimited > 1000) b.since = 0;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return Verdict.SEND;
    }
    if (b.since === 0) b.since = now;
    b.lastLimited = now;
    if (now - b.since >= this.options.windowSeconds * 1000) this.reportBan(network, now);
    b.limited++;
    if (this.options.slip > 0 && b.limited % this.options.slip === 0) {
      this.hooks.slipped?.();
      return Verdict.SLIP;
    }
    this.hooks.dropped?.();
    return Verdict.DROP;
  }

  private reportBan(network: string, now: number): void {
    if (this.options.banSeconds === 0 || !this.hooks.ban) return;
    const last = this.bans.get(network);
    if (last !== undefined && now - last < this.options.windowSeconds * 1000) return;
    this.bans.set(network, now);
    const cidr = cidrOf(network);
    if (cidr) this.hooks.ban(cidr, this.options.banSeconds);
  }

  /** Forgets buckets idle for a window (full again by then) and old ban marks. */
  private sweep(now: number): void {
    // Filled again within a second (a flood from spoofed networks): start over rather than grow.
    if (now - this.lastSweep < 1000) {
      this.buckets.clear();
      return;
    }
    this.lastSweep = now;
    const idle = Math.max(1000, this.options.windowSeconds * 1000);
    for (const [key, b] of this.buckets) if (now - b.last > idle) this.buckets.delete(key);
    for (const [network, at] of this.bans) if (now - at > idle) this.bans.delete(network);
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}

/** The client's network as a short key: `a.b.c` for IPv4 (cheap), the /56 CIDR text for IPv6. */
function networkOf(address: string): string {
  if (address.indexOf(":") < 0) return address.slice(0, address.lastIndexOf("."));
  if (address.startsWith("::ffff:") && address.includes(".")) return networkOf(address.slice(7));
  return ipPrefixKey(address, 24, 56) ?? address;
}

function cidrOf(network: string): string | null {
  return network.includes("/") ? network : ipPrefixKey(`${network}.0`, 24, 56);
}
