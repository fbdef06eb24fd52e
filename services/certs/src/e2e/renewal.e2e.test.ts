import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startNatsServer, waitFor } from "@switchyard/testkit";
import { type PebbleStack, startPebbleStack } from "../testing/test-stack.js";

describe("a short-lived certificate is renewed, and a NATS outage during the renewal costs workers nothing", () => {
  let env: PebbleStack;
  let storeDir: string;

  before(async () => {
    storeDir = await mkdtemp(join(tmpdir(), `switchyard-certs-nats-${process.pid}-`));
    env = await startPebbleStack({
      labels: ["www"],
      storeDir,
      pebble: { validitySeconds: 60 },
      certs: {
        certificates: [{ name: "www.example.test" }],
        renewal: { checkIntervalMs: 500, retryMinMs: 500, retryMaxMs: 2000, lifetimeFraction: 0.5 },
      },
    });
    await env.stack.startReplica("certs-a");
  });
  after(async () => {
    await env?.stop();
    await rm(storeDir, { recursive: true, force: true });
  });

  it("serves the old certificate while NATS is down past the renewal moment, then the renewed one", async () => {
    const { stack } = env;
    const first = await waitFor(
      "the first certificate",
      () => stack.watcher.selector.select("www.example.test"),
      60_000,
    );
    const record = await stack.record("www.example.test");
    assert.ok(record?.renewAt && record.notAfter);
    assert.equal(record.renewal?.source, "lifetime");
    assert.ok(
      record.renewAt < record.notAfter && record.renewAt > record.notBefore!,
      "renewal inside the lifetime",
    );

    await stack.nats.stop();
    let checks = 0;
    await waitFor(
      "the renewal moment to pass with NATS down",
      () => {
        checks++;
        assert.equal(
          stack.watcher.selector.select("www.example.test")?.serial,
          first.serial,
          "old certificate kept",
        );
        return Date.now() > (record.renewAt as number) + 3000;
      },
      60_000,
      200,
    );
    assert.ok(checks > 10);
    const replica = stack.replicas[0];
    assert.ok(replica, "the certs replica");
    assert.deepEqual(
      [replica.process.child.exitCode, replica.process.child.signalCode],
      [null, null],
      "the certs replica kept running through the NATS outage",
    );

    stack.nats = await startNatsServer({ jetstream: true, auth: true, storeDir, port: stack.nats.port });
    let renewed = first;
    await waitFor(
      "the renewed certificate",
      () => {
        const current = stack.watcher.selector.select("www.example.test");
        assert.ok(current && (current.serial === first.serial || current.notAfter > first.notAfter));
        assert.ok(current.notAfter > Date.now(), "never an expired certificate");
        renewed = current;
        return current.serial !== first.serial;
      },
      45_000,
      100,
    );
    assert.ok(renewed.notBefore >= first.notBefore);
    const stored = await stack.record("www.example.test");
    assert.equal(stored?.serial, renewed.serial);
    assert.equal(stored?.lastError, undefined, "a success clears the last error");
  });
});
