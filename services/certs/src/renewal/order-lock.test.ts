import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connectNats, openKv } from "@switchyard/runtime";
import { startNatsServer, waitFor } from "@switchyard/testkit";
import { quiet } from "../testing/test-stack.js";
import { OrderLock } from "./order-lock.js";

describe("order locks in a bucket whose max age is the TTL", async () => {
  const nats = await startNatsServer({ jetstream: true });
  const nc = await connectNats({ servers: nats.url, name: "locks", logger: quiet });
  const kv = await openKv(nc, "certs-locks", { history: 1, storage: "file", ttl: 1500 });
  after(async () => {
    await nc.close();
    await nats.stop();
  });

  it("admits one holder; release lets the next in", async () => {
    const a = await OrderLock.acquire(kv, "www.example.com", "a", 1500, quiet);
    assert.ok(a);
    assert.equal(await OrderLock.acquire(kv, "www.example.com", "b", 1500, quiet), undefined);
    assert.ok(
      await OrderLock.acquire(kv, "*.example.com", "b", 1500, quiet).then((l) =>
        l?.release().then(() => true),
      ),
    );
    await a.release();
    const b = await OrderLock.acquire(kv, "www.example.com", "b", 1500, quiet);
    assert.ok(b);
    await b.release();
  });

  it("is kept past the TTL while renewed, and lost after the TTL when the holder stops renewing", async () => {
    const a = await OrderLock.acquire(kv, "mail.example.com", "a", 1500, quiet);
    assert.ok(a);
    // Past the TTL by construction, not by a sleep: renewals run every TTL/3, so four of them span
    // more than one TTL (1.5 s) of the bucket's max age.
    const revision = () => (a as unknown as { revision: number }).revision;
    let last = revision();
    let renewals = 0;
    await waitFor(
      () => {
        if (revision() !== last) renewals++;
        last = revision();
        return renewals >= 4;
      },
      { timeout: 15_000, interval: 20, what: "four renewals" },
    );
    assert.equal(
      await OrderLock.acquire(kv, "mail.example.com", "b", 1500, quiet),
      undefined,
      "renewed: still held",
    );
    // A holder that dies stops renewing: simulate by stopping the timer without deleting.
    (a as unknown as { timer: NodeJS.Timeout }).timer.unref();
    clearInterval((a as unknown as { timer: NodeJS.Timeout }).timer);
    const b = await waitFor(
      "the lock to expire",
      () => OrderLock.acquire(kv, "mail.example.com", "b", 1500, quiet),
      10_000,
    );
    await b.release();
  });
});
