import type { Logger } from "@switchyard/runtime";
import type { Upstream, UpstreamPool } from "./upstream.js";

export interface HealthCheckSettings {
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Active health checks of one pool: every intervalMs, GET `path` on each upstream over its own
 * keep-alive pool; 2xx or 3xx within timeoutMs is healthy, anything else (status, refusal,
 * timeout) is not. Changes are logged once (the metrics read the verdicts at each scrape).
 */
export class HealthChecks {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly settings: HealthCheckSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.round();
    this.timer = setInterval(() => void this.round(), this.settings.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await Promise.all(
        this.pool.upstreams.map(async (u) => {
          const { healthy, reason } = await this.check(u);
          if (healthy !== u.checkedHealthy) {
            this.logger.warn(
              { pool: this.pool.name, upstream: u.address, healthy, ...(reason ? { reason } : {}) },
              healthy ? "upstream healthy again" : "upstream failed its health check",
            );
          }
          u.markChecked(healthy);
        }),
      );
    } finally {
      this.running = false;
    }
  }

  /** One check of `u` (over TLS for an https:// one, its certificate verified as for requests). */
  private async check(u: Upstream): Promise<{ healthy: boolean; reason?: string }> {
    const signal = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      const res = await u.client.request({
        method: "GET",
        path: this.settings.path,
        headers: { "user-agent": "switchyard-health-check" },
        ...(u.servername ? { servername: u.servername } : {}),
        signal,
      });
      await res.body.dump();
      const healthy = res.statusCode >= 200 && res.statusCode < 400;
      return healthy ? { healthy } : { healthy, reason: `status ${res.statusCode}` };
    } catch (err) {
      return { healthy: false, reason: u.tlsFailureOf(err)?.reason ?? String((err as Error).message ?? err) };
    }
  }
}
