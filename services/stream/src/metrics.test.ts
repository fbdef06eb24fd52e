import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { StreamMetrics } from "./metrics.js";

const value = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, name);
  const found = (await metric.get()).values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  );
  return found?.value;
};

describe("StreamMetrics: TCP numbers counted in fields, published when read", () => {
  it("shows opened, closed and abandoned connections and their bytes at each read, counters never counted twice", async () => {
    const registry = new Registry();
    const m = new StreamMetrics(registry);
    m.opened("web");
    m.opened("web");
    m.opened("web");
    m.abandoned("web");
    m.closed("web", "closed", 100, 2000);
    assert.equal(await value(registry, "switchyard_stream_connections_active", { route: "web" }), 1);
    assert.equal(
      await value(registry, "switchyard_stream_connections_total", { route: "web", end: "closed" }),
      1,
    );
    assert.equal(
      await value(registry, "switchyard_stream_bytes_total", { route: "web", direction: "in" }),
      100,
    );
    assert.equal(
      await value(registry, "switchyard_stream_bytes_total", { route: "web", direction: "out" }),
      2000,
    );
    // A second read with nothing new changes nothing; new ends add only themselves.
    const text = await registry.metrics();
    assert.equal(await registry.metrics(), text);
    m.closed("web", "idle", 1, 2);
    assert.equal(await value(registry, "switchyard_stream_connections_active", { route: "web" }), 0);
    assert.equal(
      await value(registry, "switchyard_stream_connections_total", { route: "web", end: "closed" }),
      1,
    );
    assert.equal(
      await value(registry, "switchyard_stream_connections_total", { route: "web", end: "idle" }),
      1,
    );
    assert.equal(
      await value(registry, "switchyard_stream_bytes_total", { route: "web", direction: "in" }),
      101,
    );
    const totals = (await m.routeTotals()).get("web");
    assert.deepEqual(totals, { active: 0, ended: 2, in: 101, out: 2002, refused: 0, connectFailures: 0 });
  });
});
