import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { scrapeMetric, waitFor } from "@switchyard/testkit";
import { logLines, type PebbleStack, startPebbleStack } from "../testing/test-stack.js";

const names = ["a.example.test", "b.example.test", "c.example.test"];

describe("three certs replicas against a Pebble that rejects 40% of nonces and delays validation", () => {
  let env: PebbleStack;

  before(async () => {
    env = await startPebbleStack({
      labels: ["a", "b", "c"],
      pebble: { env: { PEBBLE_WFE_NONCEREJECT: "40", PEBBLE_VA_NOSLEEP: "0", PEBBLE_VA_SLEEPTIME: "3" } },
      certs: { certificates: names.map((name) => ({ name })), lockTtlMs: 3000 },
    });
    await Promise.all(["certs-a", "certs-b", "certs-c"].map((n) => env.stack.startReplica(n)));
  });
  after(() => env?.stop());

  it("issues every name, each ordered exactly once, with no failed order", async (t) => {
    const { stack, pebble } = env;
    await waitFor("every certificate", () => names.every((n) => stack.watcher.selector.select(n)), 120_000);
    const created = stack.replicas.flatMap((r) =>
      logLines(r, "acme order created").map((l) => (l.names as string[])[0]),
    );
    assert.deepEqual(created.sort(), names, "one order per name across the replicas");
    assert.equal(pebble.linesWith("Added order").length, names.length, "Pebble saw one order per name");
    assert.deepEqual(
      stack.replicas.flatMap((r) => logLines(r, "order failed; backing off")),
      [],
    );
    const badNonces = stack.replicas
      .flatMap((r) => logLines(r, "certificate issued"))
      .reduce((sum, l) => sum + Number(l.badNonces), 0);
    assert.ok(badNonces > 0, "Pebble did reject nonces, and the orders went through anyway");
    const posts = pebble.linesWith("POST /").length;
    t.diagnostic(`${badNonces} badNonce answers, ${posts} POSTs at Pebble for ${names.length} orders`);
    const ports = stack.replicas.map((replica) => {
      const started = replica.process.lines.find(
        (l) => typeof l !== "string" && l.msg === "certs started" && l.metrics,
      );
      return (started as { metrics: number }).metrics;
    });
    assert.equal(
      await scrapeMetric(ports, "switchyard_certs_orders_total", { outcome: "issued" }),
      names.length,
      "one issued order per name",
    );
    assert.ok(
      (await scrapeMetric(ports, "switchyard_certs_acme_errors_total", { type: "badNonce" })) >= badNonces,
      "badNonce answers counted",
    );
    await waitFor("expiry gauges", async () => {
      for (const port of ports)
        if (
          (await scrapeMetric(port, "switchyard_certs_certificates", { expires_in: "ge30d" })) !==
          names.length
        )
          return false;
      return true;
    });
    assert.ok(posts < 60 * names.length, `bounded retries: ${posts} POSTs for ${names.length} orders`);
  });
});

describe("the replica holding an order lock is killed mid-order", () => {
  let env: PebbleStack;

  before(async () => {
    env = await startPebbleStack({
      labels: ["k"],
      pebble: { env: { PEBBLE_VA_NOSLEEP: "0", PEBBLE_VA_SLEEPTIME: "2" } },
      certs: { certificates: [{ name: "k.example.test" }], lockTtlMs: 3000 },
    });
  });
  after(() => env?.stop());

  it("another replica takes the lock after its TTL and completes the certificate", async () => {
    const { stack, pebble } = env;
    const first = await stack.startReplica("certs-first");
    await first.process.waitForLine((l) => l.msg === "acme order created", 60_000);
    await first.kill();
    const second = await stack.startReplica("certs-second");
    await waitFor("the certificate", () => stack.watcher.selector.select("k.example.test"), 90_000);
    assert.equal(logLines(first, "certificate issued").length, 0, "the killed replica never finished");
    assert.equal(logLines(second, "certificate issued").length, 1);
    assert.ok(logLines(second, "ordering certificate").length === 1);
    assert.equal(pebble.linesWith("Added order").length, 2, "the abandoned order and the one that completed");
  });
});
