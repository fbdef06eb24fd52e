/**
 * The connections chart's data: the edge's stats sampled every 2 s for the last 5 minutes, kept by
 * the console process so the chart has its history as soon as a page opens.
 */
import type { edgeV1 } from "@switchyard/proto";

export interface StatsSample {
  at: number;
  /** Open connections over every route. */
  active: number;
  /** Connections accepted since the edge started, over every route. */
  total: number;
}

export interface StatsHistoryOptions {
  read: () => Promise<edgeV1.GetStatsResponse>;
  intervalMs?: number;
  keepMs?: number;
  /** Called with each failed read (the edge down): the chart shows a gap. */
  failed?: (error: unknown) => void;
}

export class StatsHistory {
  private readonly list: StatsSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: StatsHistoryOptions) {}

  start(): void {
    const tick = async () => {
      try {
        this.add(await this.options.read());
      } catch (error) {
        this.options.failed?.(error);
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs ?? 2000).unref();
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  add(stats: edgeV1.GetStatsResponse, at = Date.now()): void {
    const active = stats.routes.reduce((sum, r) => sum + Number(r.active), 0);
    const total = stats.routes.reduce((sum, r) => sum + Number(r.total), 0);
    this.list.push({ at, active, total });
    const oldest = at - (this.options.keepMs ?? 5 * 60_000);
    while ((this.list[0]?.at ?? at) < oldest) this.list.shift();
  }

  samples(): StatsSample[] {
    return [...this.list];
  }
}
