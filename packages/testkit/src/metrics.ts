/** Prometheus metrics as a test reads them: one scrape, parsed; the sum over matching series. */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** `port` means http://127.0.0.1:<port>/metrics. */
export type MetricsTarget = number | string;

function urlOf(target: MetricsTarget): string {
  return typeof target === "number" ? `http://127.0.0.1:${target}/metrics` : target;
}

export interface MetricsExposition {
  samples: MetricSample[];
  /** Every family declared by a `# TYPE` line. */
  families: Set<string>;
  /** Family name → its type (counter, gauge, histogram, ...). */
  types: Map<string, string>;
}

/** Fetches and parses one exposition (text format 0.0.4). */
export async function scrapeMetrics(target: MetricsTarget): Promise<MetricsExposition> {
  const response = await fetch(urlOf(target));
  if (!response.ok) throw new Error(`${urlOf(target)}: HTTP ${response.status}`);
  return parseMetrics(await response.text());
}

export function parseMetrics(text: string): MetricsExposition {
  const samples: MetricSample[] = [];
  const families = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type?.[1]) {
      families.add(type[1]);
      types.set(type[1], type[2] as string);
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, families, types };
}

/**
 * The sum of every series of `name` whose labels include `labels` (0 when none has been recorded
 * yet). Throws when the target does not declare the metric at all, so a misspelt name fails the
 * test instead of reading as 0. For histograms pass the series name (`..._count`, `..._sum`).
 */
export async function scrapeMetric(
  target: MetricsTarget | MetricsTarget[],
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  let total = 0;
  for (const t of Array.isArray(target) ? target : [target]) {
    const { samples, families } = await scrapeMetrics(t);
    const family = name.replace(/_(count|sum|bucket|total)$/, "");
    if (!families.has(name) && !families.has(family) && !samples.some((s) => s.name === name))
      throw new Error(`${urlOf(t)} has no metric ${name}`);
    for (const s of samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
  }
  return total;
}
