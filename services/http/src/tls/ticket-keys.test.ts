/** SharedTicketKeys against a real NATS server: two instances stand for two http replicas. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it, type TestContext } from "node:test";
import { closeNats, connectNats, createLogger, type NatsConnection, openKv } from "@switchyard/runtime";
import { type NatsServerHandle, startNatsServer, waitFor } from "@switchyard/testkit";
import { SharedTicketKeys, TICKET_KEY_BYTES } from "./ticket-keys.js";

const logger = createLogger("test", { level: "silent" });
const kvKey = randomBytes(32);

describe("SharedTicketKeys", () => {
  let nats: NatsServerHandle;
  before(async () => {
    nats = await startNatsServer({ jetstream: true });
  });
  after(async () => {
    await nats?.stop();
  });

  /** Two replicas on a bucket of the test's own, with a clock the test moves. */
  async function twoReplicas(t: TestContext, rotateMs: number) {
    const bucket = `tls-tickets-${randomBytes(4).toString("hex")}`;
    const clock = { now: Date.now() };
    const held: Buffer[][] = [[], []];
    const connections: NatsConnection[] = [];
    const replicas: SharedTicketKeys[] = [];
    t.after(async () => {
      for (const r of replicas) r.stop();
      for (const nc of connections) await closeNats(nc);
    });
    for (let i = 0; i < 2; i++) {
      const nc = await connectNats({ servers: [nats.url], name: `tickets-${i}`, logger });
      connections.push(nc);
      replicas.push(
        new SharedTicketKeys({
          kv: () => openKv(nc, bucket, { history: 1 }),
          kvKey,
          logger,
          rotateMs: () => rotateMs,
          apply: (key) => held[i]?.push(key),
          now: () => clock.now,
          checkMs: 100,
        }),
      );
    }
    return { replicas, held, clock };
  }

  it("two replicas starting at once end with one key, 48 bytes", async (t) => {
    const { replicas, held } = await twoReplicas(t, 3_600_000);
    await Promise.all(replicas.map((r) => r.start()));
    const [a, b] = held.map((keys) => keys.at(-1));
    assert.equal(a?.length, TICKET_KEY_BYTES);
    assert.deepEqual(a, b);
    assert.equal(replicas[0]?.appliedRevision, replicas[1]?.appliedRevision);
  });

  it("a key past rotateMs is replaced once, by one replica, and both take the new one", async (t) => {
    const { replicas, held, clock } = await twoReplicas(t, 60_000);
    await Promise.all(replicas.map((r) => r.start()));
    const first = replicas[0]?.appliedRevision as number;
    const firstKey = held[0]?.at(-1);
    // Both replicas check every 100 ms: both see the key due at once and race to replace it.
    clock.now += 60_000;
    await waitFor(
      () =>
        (replicas[0]?.appliedRevision ?? 0) > first &&
        replicas[0]?.appliedRevision === replicas[1]?.appliedRevision
          ? true
          : undefined,
      { timeout: 30_000, what: "both on a newer key" },
    );
    assert.equal(
      replicas[0]?.appliedRevision,
      first + 1,
      "one write: the other replica's update lost the race",
    );
    assert.deepEqual(held[0]?.at(-1), held[1]?.at(-1));
    assert.notDeepEqual(held[0]?.at(-1), firstKey);
  });
});
