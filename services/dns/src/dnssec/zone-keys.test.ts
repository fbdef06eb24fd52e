/** ZoneKeys against a real NATS server: two instances stand for two replicas sharing `dns-keys`. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { createLogger } from "@switchyard/runtime";
import { type NatsServerHandle, startNatsServer, waitFor } from "@switchyard/testkit";
import { RolloverError } from "../errors.js";
import { NatsLink } from "../nats-link.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { ZoneKeys } from "./zone-keys.js";

const logger = createLogger("test", { level: "silent" });
/** A zone of its own per test: key sets are per origin, so no test sees another's rollover. */
function zoneSet(origin: string): ZoneSet {
  return new ZoneSet([
    new Zone(
      origin,
      parseZoneFile(
        "@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\nlong 7200 TXT x\n",
        {
          file: origin,
          origin,
          defaultTtl: 300,
        },
      ),
      { algorithm: "ed25519" },
    ),
  ]);
}

interface Replica {
  keys: ZoneKeys;
  changes: number;
  /** How often this replica has read the test's clock: each automatic cleanup check reads it. */
  clockReads: number;
}

/**
 * Two ZoneKeys over their own NATS connections, standing for two replicas, with a clock the test
 * moves, both holding the test's own zone. Stopped when the test ends.
 */
async function twoReplicas(t: TestContext, origin: string) {
  const links: NatsLink[] = [];
  const replicas: Replica[] = [];
  const clock = { now: Date.now() };
  t.after(async () => {
    for (const r of replicas) r.keys.stop();
    for (const l of links) await l.close();
  });
  for (let i = 0; i < 2; i++) {
    const link = new NatsLink({ servers: [nats.url], name: `${origin}-${i}`, logger });
    links.push(link);
    const replica: Replica = { keys: undefined as unknown as ZoneKeys, changes: 0, clockReads: 0 };
    replica.keys = new ZoneKeys({
      nats: link,
      kvKeyFile: join(dir, "kv.key"),
      logger,
      changed: () => replica.changes++,
      now: () => {
        replica.clockReads++;
        return clock.now;
      },
      cleanupCheckMs: 100,
    });
    replicas.push(replica);
  }
  const zones = zoneSet(origin);
  for (const r of replicas) r.keys.keysFor(zones);
  const held = (i: number) => replicas[i]?.keys.keySet(origin, "ed25519");
  const states = (i: number) => held(i)?.entries.map((e) => `${e.key.keyTag}:${e.state}`);
  await waitFor("both hold the key", () => (held(0) && held(1) ? true : undefined));
  const step = (i: number, action: "start" | "finish" | "cleanup") =>
    replicas[i]?.keys.step(origin, "ed25519", action, false) as Promise<NonNullable<ReturnType<typeof held>>>;
  /** A rollover started through replica 0, seen by replica 1. */
  const start = async () => {
    const started = await step(0, "start");
    await waitFor("replica 1 sees the start", () => held(1)?.revision === started.revision);
    return started;
  };
  /** Started, then finished through replica 1 once the DNSKEY TTL has passed, seen by replica 0. */
  const finish = async () => {
    await start();
    clock.now += 3600 * 1000;
    const finished = await step(1, "finish");
    await waitFor("replica 0 sees the finish", () => held(0)?.revision === finished.revision);
    return finished;
  };
  return { replicas, clock, held, states, step, start, finish };
}

let dir: string;
let nats: NatsServerHandle;

describe("ZoneKeys: key sets shared and changed through NATS KV", () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-zone-keys-"));
    nats = await startNatsServer({ jetstream: true });
  });

  after(async () => {
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("both load the one key; a step through one reaches the other through its watch", async (t) => {
    const r = await twoReplicas(t, "load.keys.test");
    assert.equal(r.held(0)?.active.keyTag, r.held(1)?.active.keyTag);
    assert.deepEqual(r.replicas[0]?.keys.waits("load.keys.test", "ed25519"), {
      finishS: 3600,
      cleanupS: 7200,
    });
    const started = await r.start();
    assert.equal(started.entries.length, 2);
    assert.deepEqual(r.states(1), r.states(0));
    assert.equal(r.held(1)?.successor.keyTag, started.entries[1]?.key.keyTag);
  });

  it("finish through the other replica is refused before the DNSKEY TTL, taken after it", async (t) => {
    const r = await twoReplicas(t, "finish.keys.test");
    await r.start();
    await assert.rejects(
      r.step(1, "finish"),
      (e: unknown) => e instanceof RolloverError && e.kind === "too-early",
    );
    r.clock.now += 3600 * 1000;
    const finished = await r.step(1, "finish");
    assert.deepEqual(
      finished.entries.map((e) => e.state),
      ["retired", "active"],
    );
    await waitFor("replica 0 sees the finish", () => r.held(0)?.revision === finished.revision);
  });

  it("the retired key is removed automatically once the zone's largest TTL has passed, by one replica", async (t) => {
    const r = await twoReplicas(t, "cleanup.keys.test");
    await r.finish();
    const before = r.held(0)?.revision as number;
    // Several cleanup checks (every 100 ms) run before it is due: none may write. Each check reads
    // the clock twice (is it due? when next?), so 6 more reads on each replica are 3 checks or more;
    // a write ends the wait at once (and fails below).
    const reads = r.replicas.map((x) => x.clockReads);
    await waitFor("3 cleanup checks on each replica, or a write", () =>
      r.held(0)?.revision !== before ||
      r.held(1)?.revision !== before ||
      r.replicas.every((x, i) => x.clockReads >= (reads[i] as number) + 6)
        ? true
        : undefined,
    );
    assert.equal(r.held(0)?.revision, before, "not before it is due");
    assert.equal(r.held(1)?.revision, before, "not before it is due");
    assert.equal(r.held(0)?.entries.length, 2, "the retired key is still held");
    r.clock.now += 7200 * 1000;
    await waitFor("both drop the retired key", () =>
      r.held(0)?.entries.length === 1 && r.held(1)?.entries.length === 1 ? true : undefined,
    );
    assert.equal(r.held(0)?.revision, before + 1, "one write");
    assert.deepEqual(r.states(0), r.states(1));
    assert.equal(r.held(0)?.entries[0]?.state, "active");
  });
});
