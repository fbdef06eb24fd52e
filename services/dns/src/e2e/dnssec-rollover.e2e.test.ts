import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import { dnsV1 } from "@switchyard/proto";
import { createGrpcClient, ensureNatsAuth, status, unary } from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type KnotHandle,
  type NatsServerHandle,
  startDnsReplica,
  startEdge,
  startKnot,
  startNatsServer,
  waitFor,
} from "@switchyard/testkit";
import { type Dig, kdig } from "../testing/kdig.js";
import { startUnbound } from "../testing/unbound.js";

/**
 * One zone per test, all served by the same two replicas: each test drives its own zone from
 * steady to the phase it checks, so none leans on a rollover another test started.
 */
const ZONES = {
  steady: "steady-roll.test",
  start: "start-roll.test",
  finish: "finish-roll.test",
  cleanup: "cleanup-roll.test",
} as const;

const literal = (zone: string) => zone.replaceAll(".", "\\.");

/** The key tags of the RRSIGs in `lines` over `type` (field 10 of "name ttl IN RRSIG type alg labels ttl exp inc tag ..."). */
const sigTags = (lines: string[], type: string) =>
  lines
    .map((l) => l.split(" "))
    .filter((f) => f[3] === "RRSIG" && f[4] === type)
    .map((f) => Number(f[10]))
    .sort((a, b) => a - b);
const count = (lines: string[], type: string) => lines.filter((l) => l.split(" ")[3] === type).length;

describe("DNSSEC CSK rollover driven through DnsAdmin, 2 replicas, validated by Unbound", () => {
  let dir: string;
  let edge: EdgeHarness;
  let nats: NatsServerHandle;
  let port: number;
  const replicas: DnsReplica[] = [];
  const clients: InstanceType<typeof dnsV1.DnsAdminClient>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-rollover-"));
    port = await freePort();
    await ensureNatsAuth(join(dir, "auth"));
    nats = await startNatsServer({ jetstream: true, auth: { dir: join(dir, "auth") } });
    edge = await startEdge({
      nats: { servers: [nats.url], credentialsFile: join(dir, "auth", "{role}.cred") },
      dns: {
        ports: [port],
        zones: Object.values(ZONES).map((origin) => ({
          origin,
          dnssec: { algorithm: "ecdsap256sha256" },
          soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
          records: [
            { type: "NS", value: "ns1" },
            { name: "ns1", type: "A", value: "192.0.2.53" },
            { name: "www", type: "A", value: "192.0.2.80" },
          ],
        })),
      },
    });
    const env = { SWITCHYARD_KV_KEY_FILE: join(dir, "kv.key") };
    replicas.push(
      ...(await Promise.all([
        startDnsReplica(edge, { name: "dns-a", env }),
        startDnsReplica(edge, { name: "dns-b", env }),
      ])),
    );
    for (const r of replicas) {
      for (const zone of Object.values(ZONES))
        await r.process.waitForLine((l) => l.msg === "dnssec key ready" && l.zone === zone, 30_000);
      clients.push(createGrpcClient(dnsV1.DnsAdminClient, r.grpc, edge.token));
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const r of replicas) {
      r.process.child.kill("SIGCONT");
      await r.stop();
    }
    await edge?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const [a, b] = [0, 1];
  const client = (i: number) => clients[i] as InstanceType<typeof dnsV1.DnsAdminClient>;
  const statusOf = (i: number, zone: string) => unary(client(i), "getRolloverStatus", { zone, parent: "" });

  /** `ask` answered by replica `i` alone: the other is stopped meanwhile, so it reads the shared socket. */
  async function via<T>(i: number, ask: () => Promise<T>): Promise<T> {
    const other = replicas[1 - i] as DnsReplica;
    other.process.child.kill("SIGSTOP");
    try {
      return await ask();
    } finally {
      other.process.child.kill("SIGCONT");
    }
  }

  /** Both replicas serve key entry `revision`, by gRPC, and answer DNSKEY alike (each asked alone). */
  async function bothServe(zone: string, revision: number): Promise<Dig> {
    for (const i of [a, b])
      await waitFor(`replica ${i} serves key revision ${revision} of ${zone}`, async () => {
        const s = await statusOf(i, zone);
        return s.revision === revision ? s : undefined;
      });
    // One after the other: each is asked while the other is stopped.
    const keys: Dig[] = [];
    for (const i of [a, b]) keys.push(await via(i, () => kdig(port, "+dnssec", "+norec", zone, "DNSKEY")));
    const [ka, kb] = keys as [Dig, Dig];
    assert.deepEqual(
      ka.answer.filter((l) => !l.includes(" RRSIG ")).sort(),
      kb.answer.filter((l) => !l.includes(" RRSIG ")).sort(),
      "both replicas publish the same DNSKEY RRset",
    );
    assert.deepEqual(sigTags(ka.answer, "DNSKEY"), sigTags(kb.answer, "DNSKEY"));
    return ka;
  }

  /** A validating resolver with `anchor` as the zone's DS: AD or SERVFAIL for www.<zone> A. */
  async function validate(zone: string, anchor: string): Promise<Dig> {
    const unbound = await startUnbound(dir, [anchor], [{ zone, port }]);
    try {
      return await kdig(unbound.port, "+dnssec", `www.${zone}`, "A");
    } finally {
      await unbound.stop();
    }
  }

  const cds = async (zone: string) => {
    const lines = (await kdig(port, "+norec", zone, "CDS")).answer;
    assert.equal(lines.length, 1, "one CDS");
    return `${zone}. DS ${(lines[0] as string).split(" ").slice(4).join(" ")}`;
  };

  const answerTags = async (i: number, zone: string) =>
    sigTags((await via(i, () => kdig(port, "+dnssec", "+norec", `www.${zone}`, "A"))).answer, "A");

  /** The zone's one key while steady: its tag and its DS (from the CDS). */
  async function steady(zone: string): Promise<{ oldTag: number; oldAnchor: string; revision: number }> {
    const s = await statusOf(a, zone);
    assert.equal(s.phase, "steady");
    assert.equal(s.keys.length, 1);
    return { oldTag: s.keys[0]?.keyTag as number, oldAnchor: await cds(zone), revision: s.revision };
  }

  /** Steady, then a rollover started through replica a: the new key's tag and DS. */
  async function started(zone: string) {
    const before = await steady(zone);
    const response = await unary(client(a), "startRollover", { zone, force: false });
    const incoming = response.keys.find((k) => k.state === "published");
    assert.ok(incoming, "a published key");
    await bothServe(zone, response.revision);
    return { ...before, response, incoming, newTag: incoming.keyTag, newAnchor: await cds(zone) };
  }

  /** Started, then finished (forced) through replica b. */
  async function finished(zone: string) {
    const roll = await started(zone);
    const response = await unary(client(b), "finishRollover", { zone, force: true });
    await bothServe(zone, response.revision);
    return { ...roll, finished: response };
  }

  it("steady: one key, the old DS validates (AD); finish before start is FAILED_PRECONDITION", async () => {
    const zone = ZONES.steady;
    const { oldTag, oldAnchor, revision } = await steady(zone);
    assert.match(oldAnchor, new RegExp(`^${literal(zone)}\\. DS ${oldTag} 13 2 `));
    const keys = await bothServe(zone, revision);
    assert.equal(count(keys.answer, "DNSKEY"), 1);
    assert.deepEqual(sigTags(keys.answer, "DNSKEY"), [oldTag]);
    for (const i of [a, b]) assert.deepEqual(await answerTags(i, zone), [oldTag]);
    const r = await validate(zone, oldAnchor);
    assert.equal(r.status, "NOERROR");
    assert.ok(r.flags.includes("ad"), `flags ${r.flags.join(" ")}`);

    const err = (await unary(client(b), "finishRollover", { zone, force: false }).then(
      () => assert.fail("finish before start succeeded"),
      (e: ServiceError) => e,
    )) as ServiceError;
    assert.equal(err.code, status.FAILED_PRECONDITION);
    assert.equal(
      err.details,
      `zone ${zone}: no rollover is started (no published key); \`rollover start ${zone}\` first`,
    );
  });

  it("start: both keys in DNSKEY signed by both, CDS of the new key, answers still by the old; old and new DS both validate; a Knot parent's new DS is matched to the new key", async () => {
    const zone = ZONES.start;
    const { oldTag, oldAnchor, response, incoming, newTag, newAnchor } = await started(zone);
    assert.equal(response.phase, "published");
    assert.ok(incoming.inCds);
    assert.notEqual(newTag, oldTag);
    const keys = await bothServe(zone, response.revision);
    assert.equal(count(keys.answer, "DNSKEY"), 2);
    assert.deepEqual(
      sigTags(keys.answer, "DNSKEY"),
      [oldTag, newTag].sort((x, y) => x - y),
    );
    assert.match(newAnchor, new RegExp(`^${literal(zone)}\\. DS ${newTag} 13 2 `));
    assert.equal(`${newAnchor.replace(" DS ", " 3600 IN DS ")}`, incoming.ds);
    // The signed answers cached before the change are gone on both replicas: still the old key's.
    for (const i of [a, b]) assert.deepEqual(await answerTags(i, zone), [oldTag]);
    for (const anchor of [oldAnchor, newAnchor]) {
      const r = await validate(zone, anchor);
      assert.equal(r.status, "NOERROR", anchor);
      assert.ok(r.flags.includes("ad"), `${anchor}: flags ${r.flags.join(" ")}`);
    }
    // The parent (a real Knot serving `test.` with the delegation) switched its DS to the new key.
    const label = zone.slice(0, -".test".length);
    const parent: KnotHandle = await startKnot({
      zones: [
        {
          origin: "test",
          text: [
            "$ORIGIN test.",
            "@ 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60",
            "@ 3600 IN NS ns.test.",
            "ns 3600 IN A 192.0.2.1",
            `${label} 3600 IN NS ns1.${zone}.`,
            `ns1.${label} 3600 IN A 192.0.2.53`,
            `${label} 3600 IN ${newAnchor.split(" ").slice(1).join(" ")}`,
            "",
          ].join("\n"),
        },
      ],
    });
    try {
      const checked = await unary(client(b), "getRolloverStatus", {
        zone,
        parent: `127.0.0.1:${parent.port}`,
      });
      assert.equal(checked.parentError, "");
      assert.deepEqual(
        checked.parentDs.map((p) => [p.keyTag, p.keyState]),
        [[newTag, "published"]],
      );
    } finally {
      await parent.stop();
    }
    const again = await unary(client(b), "startRollover", { zone, force: false }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    assert.equal(again?.code, status.FAILED_PRECONDITION);
    assert.match(again?.details ?? "", /a rollover is already started/);
  });

  it("finish: refused before the DNSKEY TTL; forced, answers are signed by the new key and validate with the new DS (and the old)", async () => {
    const zone = ZONES.finish;
    const { oldTag, oldAnchor, newTag, newAnchor } = await started(zone);
    const early = await unary(client(b), "finishRollover", { zone, force: false }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    assert.equal(early?.code, status.FAILED_PRECONDITION);
    assert.match(
      early?.details ?? "",
      new RegExp(
        `^zone ${literal(zone)}: the new key was published at \\S+Z; resolvers may cache the old DNSKEY RRset for 3600 s, so finish at \\S+Z or later \\(\\d+ s from now\\), or with --force$`,
      ),
    );
    // Through the other replica: its KV watch brought it the started rollover.
    const finished = await unary(client(b), "finishRollover", { zone, force: true });
    assert.equal(finished.phase, "retiring");
    assert.deepEqual(
      finished.keys.map((k) => [k.keyTag, k.state, k.inCds]),
      [
        [oldTag, "retired", false],
        [newTag, "active", true],
      ],
    );
    const keys = await bothServe(zone, finished.revision);
    assert.equal(count(keys.answer, "DNSKEY"), 2);
    assert.deepEqual(
      sigTags(keys.answer, "DNSKEY"),
      [oldTag, newTag].sort((x, y) => x - y),
    );
    for (const i of [a, b]) assert.deepEqual(await answerTags(i, zone), [newTag]);
    assert.equal(await cds(zone), newAnchor);
    // The new DS validates; a resolver still holding the old DS too (the retired key signs DNSKEY).
    for (const anchor of [newAnchor, oldAnchor]) {
      const r = await validate(zone, anchor);
      assert.equal(r.status, "NOERROR", anchor);
      assert.ok(r.flags.includes("ad"), `${anchor}: flags ${r.flags.join(" ")}`);
    }
    const status_ = await statusOf(a, zone);
    assert.match(status_.waitingFor, /answers signed by the old key to expire from caches/);
  });

  it("cleanup: only the new DNSKEY is served, signed by it alone; the new DS validates, the old no longer does", async () => {
    const zone = ZONES.cleanup;
    const { oldAnchor, newTag, newAnchor } = await finished(zone);
    const cleaned = await unary(client(a), "cleanupRollover", { zone, force: true });
    assert.equal(cleaned.phase, "steady");
    assert.deepEqual(
      cleaned.keys.map((k) => [k.keyTag, k.state]),
      [[newTag, "active"]],
    );
    const keys = await bothServe(zone, cleaned.revision);
    assert.equal(count(keys.answer, "DNSKEY"), 1);
    assert.match(keys.answer[0] as string, new RegExp(`^${literal(zone)}\\. 3600 IN DNSKEY 257 3 13 `));
    assert.deepEqual(sigTags(keys.answer, "DNSKEY"), [newTag]);
    for (const i of [a, b]) assert.deepEqual(await answerTags(i, zone), [newTag]);
    const good = await validate(zone, newAnchor);
    assert.ok(good.flags.includes("ad"), `flags ${good.flags.join(" ")}`);
    const stale = await validate(zone, oldAnchor);
    assert.equal(stale.status, "SERVFAIL");
  });
});
