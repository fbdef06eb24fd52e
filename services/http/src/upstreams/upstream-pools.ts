import type { Logger } from "@switchyard/runtime";
import type { PoolSpec } from "../config.js";
import { HealthChecks } from "./health-checks.js";
import { Upstream, UpstreamPool } from "./upstream.js";

/**
 * Every upstream pool of the running config, with their health checks. A reload builds a new set;
 * the old one closes its idle connections once its in-flight requests are done (undici's close).
 */
export class UpstreamPools {
  readonly pools = new Map<string, UpstreamPool>();
  private readonly checks: HealthChecks[] = [];

  constructor(specs: PoolSpec[], connectTimeoutMs: number, logger: Logger) {
    for (const spec of specs) {
      const pool = new UpstreamPool(
        spec.name,
        spec.upstreams.map(
          (address) => new Upstream(address, spec.name, { connectTimeoutMs, tls: spec.tls }),
        ),
      );
      if (spec.tls && !spec.tls.verify)
        logger.warn(
          { pool: spec.name, config: spec.tls.where },
          "upstream TLS certificates are NOT verified (insecureSkipVerify: true)",
        );
      this.pools.set(spec.name, pool);
      if (spec.healthCheck) this.checks.push(new HealthChecks(pool, spec.healthCheck, logger));
    }
  }

  start(): void {
    for (const check of this.checks) check.start();
  }

  /** Every upstream, for yardctl and the metrics scrape. */
  all(): Upstream[] {
    return [...this.pools.values()].flatMap((p) => p.upstreams);
  }

  /** Stops the checks; idle connections close once in-flight requests are done (a reload). */
  async close(): Promise<void> {
    for (const check of this.checks) check.stop();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }

  /** Stops the checks and ends every upstream connection now (stop). */
  async destroy(): Promise<void> {
    for (const check of this.checks) check.stop();
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
  }
}
