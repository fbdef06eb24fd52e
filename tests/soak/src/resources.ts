/**
 * Everything the edge and its workers hold per connection, read from outside: every switchyard_*
 * gauge, the edge's per-route and per-worker active counts (EdgeAdmin), and each process's fds.
 */
import assert from "node:assert/strict";
import type { edgeV1 } from "@switchyard/proto";
import { unary } from "@switchyard/runtime";
import { fdCensus, scrapeMetrics, waitFor } from "@switchyard/testkit";

/** A process the soak watches: its pid and metrics port. */
export interface Watched {
  name: string;
  pid: number;
  metricsPort: number;
}

/** Flat readings, `<what> <where>` → value; a reading absent from one snapshot counts as 0. */
export type Snapshot = Record<string, number>;

/** Every switchyard_* gauge series of `target`, keyed by process, name and labels. */
async function gauges(target: Watched, into: Snapshot): Promise<void> {
  const { samples, types } = await scrapeMetrics(target.metricsPort);
  for (const s of samples) {
    if (!s.name.startsWith("switchyard_") || types.get(s.name) !== "gauge") continue;
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    into[`gauge ${target.name} ${s.name}{${labels}}`] = s.value;
  }
}

export async function snapshot(
  admin: InstanceType<typeof edgeV1.EdgeAdminClient>,
  processes: Watched[],
): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const p of processes) {
    // Sockets on the metrics port are this reading's own scrapes (kept alive), not clients.
    out[`fds ${p.name}`] = (await fdCensus(p.pid, [p.metricsPort])).total;
    await gauges(p, out);
  }
  for (const r of (await unary(admin, "getStats", {})).routes)
    out[`edge route ${r.route} active`] = Number(r.active);
  for (const w of (await unary(admin, "listWorkers", { pool: "" })).workers) {
    out[`edge worker ${w.instance} active`] = Number(w.activeConnections);
    out[`edge worker ${w.instance} ready`] = w.state === "ready" ? 1 : 0;
  }
  return out;
}

/** The readings that differ from `baseline` (absent = 0). */
export function differences(baseline: Snapshot, now: Snapshot): string[] {
  const keys = new Set([...Object.keys(baseline), ...Object.keys(now)]);
  return [...keys]
    .filter((k) => (baseline[k] ?? 0) !== (now[k] ?? 0))
    .sort()
    .map((k) => `${k}: ${now[k] ?? 0} (baseline ${baseline[k] ?? 0})`);
}

/** Waits (polling, with a deadline) until every reading equals the baseline; fails listing the rest. */
export async function backToBaseline(
  read: () => Promise<Snapshot>,
  baseline: Snapshot,
  timeoutMs: number,
): Promise<void> {
  let left: string[] = [];
  try {
    await waitFor(
      "every gauge, active count and fd count back to its baseline",
      async () => {
        left = differences(baseline, await read());
        return left.length === 0;
      },
      timeoutMs,
      200,
    );
  } catch {
    assert.fail(`not back to baseline after ${timeoutMs} ms:\n  ${left.join("\n  ")}`);
  }
}
