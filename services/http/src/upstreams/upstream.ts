import { Pool } from "undici";

/** How long an upstream that refused a connection is skipped (passive health) unless a check says up. */
export const PASSIVE_DOWN_MS = 10_000;

/**
 * One upstream of one pool: its keep-alive connections (an undici Pool), the requests in flight on
 * it, and its health. Passive health: a failed connect marks it down for PASSIVE_DOWN_MS. Active
 * health (when the site has healthCheck): the last check's verdict.
 */
export class Upstream {
  readonly client: Pool;
  inFlight = 0;
  /** The last active check's verdict (true until a check says otherwise). */
  checkedHealthy = true;
  /** Passive: skipped until this time (performance.now()). */
  private downUntil = 0;
  failures = 0;

  constructor(
    readonly address: string,
    readonly pool: string,
    options: { connectTimeoutMs: number },
  ) {
    this.client = new Pool(`http://${address}`, {
      connections: 256,
      connect: { timeout: options.connectTimeoutMs },
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 60_000,
      pipelining: 1,
    });
  }

  get healthy(): boolean {
    return this.checkedHealthy && performance.now() >= this.downUntil;
  }

  /** A connect failed (refused, timed out, reset before a response): skip it for a while. */
  markConnectFailure(): void {
    this.failures++;
    this.downUntil = performance.now() + PASSIVE_DOWN_MS;
  }

  /** An active check answered 2xx/3xx (clears a passive mark too) or did not. */
  markChecked(healthy: boolean): void {
    this.checkedHealthy = healthy;
    if (healthy) this.downUntil = 0;
  }

  /** Closes idle connections once in-flight requests are done (a reload). */
  close(): Promise<void> {
    return this.client.close();
  }

  /** Ends every connection now (stop). */
  destroy(): Promise<void> {
    return this.client.destroy();
  }
}

/**
 * A pool's upstreams and the choice among them: least outstanding requests among the healthy ones
 * (ties go round robin from a moving start, so equal upstreams share the load).
 */
export class UpstreamPool {
  private next = 0;

  constructor(
    readonly name: string,
    readonly upstreams: Upstream[],
  ) {}

  /** The healthy upstream with the fewest requests in flight, not one of `tried`; undefined: none. */
  pick(tried: ReadonlySet<Upstream> = new Set()): Upstream | undefined {
    const n = this.upstreams.length;
    let best: Upstream | undefined;
    for (let i = 0; i < n; i++) {
      const u = this.upstreams[(this.next + i) % n] as Upstream;
      if (tried.has(u) || !u.healthy) continue;
      if (!best || u.inFlight < best.inFlight) best = u;
    }
    this.next = (this.next + 1) % Math.max(1, n);
    return best;
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.destroy()));
  }
}
