import type { Metric, Registry } from "prom-client";

export interface LatencyRecorder {
  /** One observation, in seconds. */
  observe(seconds: number): void;
}

interface Series {
  /** Per bucket (not cumulative), the last one +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label whose observations cost a few comparisons and array
 * increments (prom-client's Histogram hashes its labels on every observe, which showed in the UDP
 * profile). Rendered in the registry like any histogram.
 */
export class LatencyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The recorder for one label value. */
  child(value: string): LatencyRecorder {
    const s: Series = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
    this.series.set(value, s);
    const { buckets } = this;
    return {
      observe(seconds: number) {
        let i = 0;
        while (i < buckets.length && seconds > (buckets[i] as number)) i++;
        s.counts[i] = (s.counts[i] as number) + 1;
        s.sum += seconds;
        s.count++;
      },
    };
  }

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [label, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.buckets.length ? (this.buckets[i] as number) : "+Inf";
        values.push({
          labels: { le, [this.labelName]: label },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
