/** ZoneKeys against a real NATS server: two instances stand for two replicas sharing `dns-keys`. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "@switchyard/runtime";
import { type NatsServerHandle, startNatsServer, waitFor } from "@switchyard/testkit";
import { RolloverError } from "../errors.js";
import { NatsLink } from "../nats-link.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { ZoneKeys } from "./zone-keys.js";

const logger = createLogger("test", { level: "silent" });
const ORIGIN = "keys.test";
const zones = new ZoneSet([
  new Zone(
    ORIGIN,
    parseZoneFile("@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\nlong 7200 TXT x\n", {
      file: ORIGIN,
      origin: ORIGIN,
      defaultTtl: 300,
    }),
    { algorithm: "ed25519" },
  ),
]);

describe("ZoneKeys: key sets shared and changed through NATS KV", () => {
  let dir: string;
  let nats: NatsServerHandle;
  const links: NatsLink[] = [];
  const replicas: { keys: ZoneKeys; changes: number }[] = [];
  let clock = Date.now();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-zone-keys-"));
    nats = await startNatsServer({ jetstream: true });
    for (let i = 0; i < 2; i++) {
      const link = new NatsLink({ servers: [nats.url], name: `keys-${i}`, logger });
      links.push(link);
      const replica = { keys: undefined as unknown as ZoneKeys, changes: 0 };
      replica.keys = new ZoneKeys({
        nats: link,
        kvKeyFile: join(dir, "kv.key"),
        logger,
        changed: () => replica.changes++,
        now: () => clock,
        cleanupCheckMs: 100,
      });
      replicas.push(replica);
    }
  });

  after(async () => {
    for (const r of replicas) r.keys.stop();
    for (const l of links) await l.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const held = (i: number) => replicas[i]?.keys.keySet(ORIGIN, "ed25519");
  const states = (i: number) => held(i)?.entries.map((e) => `${e.key.keyTag}:${e.state}`);

  it("both load the one key; a step through one reaches the other through its watch", async () => {
    for (const r of replicas) r.keys.keysFor(zones);
    const first = await waitFor("both hold the key", () =>
      held(0) && held(1) ? [held(0), held(1)] : undefined,
    );
    assert.equal(first[0]?.active.keyTag, first[1]?.active.keyTag);
    assert.deepEqual(replicas[0]?.keys.waits(ORIGIN, "ed25519"), { finishS: 3600, cleanupS: 7200 });

    const started = await replicas[0]?.keys.step(ORIGIN, "ed25519", "start", false);
    assert.equal(started?.entries.length, 2);
    await waitFor("replica 1 sees the start", () => held(1)?.revision === started?.revision);
    assert.deepEqual(states(1), states(0));
    assert.equal(held(1)?.successor.keyTag, started?.entries[1]?.key.keyTag);
  });

  it("finish through the other replica is refused before the DNSKEY TTL, taken after it", async () => {
    await assert.rejects(
      replicas[1]?.keys.step(ORIGIN, "ed25519", "finish", false) as Promise<unknown>,
      (e: unknown) => e instanceof RolloverError && e.kind === "too-early",
    );
    clock += 3600 * 1000;
    const finished = await replicas[1]?.keys.step(ORIGIN, "ed25519", "finish", false);
    assert.deepEqual(
      finished?.entries.map((e) => e.state),
      ["retired", "active"],
    );
    await waitFor("replica 0 sees the finish", () => held(0)?.revision === finished?.revision);
  });

  it("the retired key is removed automatically once the zone's largest TTL has passed, by one replica", async () => {
    const before = held(0)?.revision as number;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(held(0)?.revision, before, "not before it is due");
    clock += 7200 * 1000;
    await waitFor("both drop the retired key", () =>
      held(0)?.entries.length === 1 && held(1)?.entries.length === 1 ? true : undefined,
    );
    assert.equal(held(0)?.revision, before + 1, "one write");
    assert.deepEqual(states(0), states(1));
    assert.equal(held(0)?.entries[0]?.state, "active");
  });
});
