import assert from "node:assert/strict";
import { test } from "node:test";
import { createMetricsRegistry, startMetricsServer } from "./metrics-server.js";

test("serves Prometheus metrics labelled with the service, and health and readiness", async (t) => {
  const registry = createMetricsRegistry("mail");
  let ready = false;
  const server = await startMetricsServer({ host: "127.0.0.1", port: 0, registry, ready: () => ready });
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;

  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
  assert.match(await metrics.text(), /process_cpu_user_seconds_total\{service="mail"\}/);

  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  ready = true;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: "POST" })).status, 405);
});
