import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { edgeV1 } from "@switchyard/proto";
import { StatsHistory } from "./stats-history.js";

const stats = (active: number[], total: number[]) =>
  ({
    routes: active.map((a, i) => ({ route: `r${i}`, active: a, total: total[i] ?? 0 })),
  }) as unknown as edgeV1.GetStatsResponse;

describe("StatsHistory", () => {
  test("sums the routes of each sample and keeps only keepMs of them", () => {
    const history = new StatsHistory({ read: async () => stats([], []), keepMs: 1000 });
    history.add(stats([1, 2], [10, 20]), 0);
    history.add(stats([0, 1], [11, 25]), 600);
    assert.deepEqual(history.samples(), [
      { at: 0, active: 3, total: 30 },
      { at: 600, active: 1, total: 36 },
    ]);
    history.add(stats([4], [40]), 1500);
    assert.deepEqual(
      history.samples().map((s) => s.at),
      [600, 1500],
    );
  });

  test("start samples at once and after each interval; a failed read is reported, not thrown", async () => {
    let calls = 0;
    const failures: unknown[] = [];
    const history = new StatsHistory({
      read: async () => {
        calls += 1;
        if (calls === 2) throw new Error("edge down");
        return stats([calls], [calls]);
      },
      intervalMs: 5,
      failed: (error) => failures.push(error),
    });
    history.start();
    while (calls < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    history.stop();
    assert.equal(failures.length, 1);
    assert.deepEqual(
      history.samples().map((s) => s.active),
      [1, 3],
    );
  });
});
