import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { dnsV1 } from "@switchyard/proto";
import {
  connectNats,
  createGrpcClient,
  createLogger,
  ensureNatsAuth,
  type KV,
  type NatsConnection,
  openKv,
  unary,
} from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type NatsServerHandle,
  startDnsReplica,
  startEdge,
  startNatsServer,
  waitFor,
} from "@switchyard/testkit";

const run = promisify(execFile);

describe("dynamic records over NATS KV, 2 replicas behind the edge, kdig", () => {
  let edge: EdgeHarness;
  let nats: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  let port: number;
  let natsPort: number;
  /** Every replica reading the edge's shared UDP socket (a and b; the startup test adds its own). */
  const replicas: DnsReplica[] = [];
  let a: DnsReplica;
  let b: DnsReplica;
  let clientA: InstanceType<typeof dnsV1.DnsAdminClient>;
  let clientB: InstanceType<typeof dnsV1.DnsAdminClient>;

  // The per-role NATS users of npm start and compose, made before the server first starts.
  let authDir: string;
  let certsLogin: string;
  const servers: NatsServerHandle[] = [];
  /** The test writes the acme bucket as the certs service does, with its login. */
  const connectAsCerts = (url: string) =>
    connectNats({
      servers: url,
      name: "dns-e2e",
      logger: createLogger("test", { level: "silent" }),
      credentialsFile: certsLogin,
    });

  /**
   * NATS running and every replica watching its `dns-records` bucket; the acme bucket, as the certs
   * service writes it. Starts a new, empty server (on the replicas' port) when none runs, and then
   * waits for each replica's snapshot of it; a test that needs NATS calls this first.
   */
  async function natsUp(): Promise<KV> {
    if (!nats || !nc) {
      const marks = replicas.map((r) => r.process.lines.length);
      const server = await startNatsServer({ jetstream: true, port: natsPort, auth: { dir: authDir } });
      servers.push(server);
      nats = server;
      for (const [i, r] of replicas.entries())
        await waitFor(
          `${r.name} applied the records snapshot of the new server`,
          () =>
            r.process.lines
              .slice(marks[i])
              .some(
                (l) => typeof l !== "string" && l.msg === "kv snapshot applied" && l.bucket === "records",
              ),
          30_000,
        );
      nc = await connectAsCerts(server.url);
    }
    return openKv(nc, "acme", { history: 1 });
  }

  /** NATS stopped (and the test's connection to it closed), whether or not it ran. */
  async function natsDown(): Promise<void> {
    await nc?.close();
    nc = undefined;
    await nats?.stop();
    nats = undefined;
  }

  before(async () => {
    port = await freePort();
    natsPort = await freePort();
    authDir = await mkdtemp(join(tmpdir(), "switchyard-dns-nats-auth-"));
    certsLogin = (await ensureNatsAuth(authDir)).credentials.certs.file;
    edge = await startEdge({
      nats: { servers: [`nats://127.0.0.1:${natsPort}`], credentialsFile: join(authDir, "{role}.cred") },
      dns: {
        ports: [port],
        zones: [
          {
            origin: "dyn.test",
            soa: { mname: "ns1", rname: "hostmaster", serial: 100, minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.53" },
              { name: "www", type: "CNAME", value: "@" },
              { type: "A", value: "192.0.2.1" },
            ],
          },
        ],
      },
    });
    // NATS is not running yet: the replicas must start and serve the static zone anyway.
    a = await startDnsReplica(edge, { name: "dns-a" });
    replicas.push(a);
    b = await startDnsReplica(edge, { name: "dns-b" });
    replicas.push(b);
    clientA = createGrpcClient(dnsV1.DnsAdminClient, a.grpc, edge.token);
    clientB = createGrpcClient(dnsV1.DnsAdminClient, b.grpc, edge.token);
  });

  after(async () => {
    clientA?.close();
    clientB?.close();
    for (const r of replicas) {
      r.process.child.kill("SIGCONT");
      await r.stop();
    }
    await natsDown();
    await edge?.stop();
    if (authDir) await rm(authDir, { recursive: true, force: true });
  });

  const kdig = async (...args: string[]) =>
    (await run("kdig", ["@127.0.0.1", "-p", String(port), "+time=2", "+retry=1", ...args])).stdout;
  const short = async (name: string, type: string) =>
    (await kdig("+short", name, type)).trim().split("\n").filter(Boolean).sort();

  /**
   * Runs `check` with only one replica reading the shared UDP socket, for each of `these` (a and b
   * unless told) in turn: every other replica is stopped meanwhile.
   */
  async function onEach(
    check: (replica: DnsReplica) => Promise<unknown>,
    these: DnsReplica[] = [a, b],
  ): Promise<void> {
    for (const only of these) {
      const others = replicas.filter((r) => r !== only);
      for (const r of others) r.process.child.kill("SIGSTOP");
      try {
        await check(only);
      } finally {
        for (const r of others) r.process.child.kill("SIGCONT");
      }
    }
  }

  const serialVia = async (client: InstanceType<typeof dnsV1.DnsAdminClient>) =>
    (await unary(client, "listZones", {})).zones[0]?.serial;

  /** Upserts an A record through `client` and waits until a and b both answer it. */
  async function upsertAnswered(
    client: InstanceType<typeof dnsV1.DnsAdminClient>,
    name: string,
    value: string,
  ): Promise<void> {
    await unary(client, "upsertRecord", { name, type: "A", ttl: 60, value });
    await onEach(async (r) =>
      waitFor(`${r.name} answers ${name}`, async () => (await short(name, "A"))[0] === value),
    );
  }

  it("serves the static zone while NATS is unreachable, then connects when it comes up", async () => {
    await natsDown();
    // A replica of this test's own, started while NATS is unreachable.
    const c = await startDnsReplica(edge, { name: "dns-c" });
    replicas.push(c);
    try {
      await onEach(async () => assert.deepEqual(await short("dyn.test", "A"), ["192.0.2.1"]), [c]);
      await natsUp();
      await c.process.waitForLine((l) => l.msg === "kv snapshot applied" && l.bucket === "records", 30_000);
    } finally {
      replicas.splice(replicas.indexOf(c), 1);
      await c.stop();
    }
  });

  it("UpsertRecord sent to replica A is answered by both replicas, with the same new serial", async () => {
    await natsUp();
    const before = await serialVia(clientA);
    const res = await unary(clientA, "upsertRecord", {
      name: "api.dyn.test.",
      type: "A",
      ttl: 120,
      value: "192.0.2.77",
    });
    assert.equal(res.zone, "dyn.test");
    assert.equal(res.record?.value, "192.0.2.77");
    await onEach(async (r) =>
      assert.deepEqual(
        await waitFor(`${r.name} answers api.dyn.test`, async () => {
          const got = await short("api.dyn.test", "A");
          return got[0] === "192.0.2.77" ? got : undefined;
        }),
        ["192.0.2.77"],
      ),
    );
    const full = await kdig("api.dyn.test", "A");
    assert.match(full, /api\.dyn\.test\.\s+120\s+IN\s+A\s+192\.0\.2\.77/);
    const serials = await waitFor("both serials changed and equal", async () => {
      const s = await Promise.all([clientA, clientB].map(serialVia));
      return s.every((x) => x === s[0] && x !== before) ? s : undefined;
    });
    assert.notEqual(serials[0], before);
    await onEach(async () => {
      const soa = await short("dyn.test", "SOA");
      assert.match(soa[0] ?? "", new RegExp(` ${serials[0]} `));
    });
    const listed = await unary(clientB, "listRecords", { zone: "dyn.test" });
    assert.ok(listed.records.some((r) => r.name === "api.dyn.test." && r.source === "api"));
    assert.ok(listed.records.some((r) => r.name === "ns1.dyn.test." && r.source === "config"));
  });

  it("answers a DNS-01 value put into the acme bucket as TXT (TTL 10) on both replicas, and forgets it after a delete", async () => {
    const acme = await natsUp();
    const name = "_acme-challenge.www.dyn.test";
    const values = ["first-token-value", "wildcard-token-value"];
    const keys = values.map(
      (v) => `dns01.${createHash("sha256").update(`${name}\n${v}`).digest("hex").slice(0, 32)}`,
    );
    const serialBefore = await serialVia(clientA);
    for (const [i, v] of values.entries())
      await acme.put(keys[i] as string, JSON.stringify({ name, value: v, expiresAt: Date.now() + 600_000 }));
    await onEach(async (r) => {
      const got = await waitFor(`${r.name} answers the TXT`, async () => {
        const txt = await short(name, "TXT");
        return txt.length === 2 ? txt : undefined;
      });
      assert.deepEqual(got, ['"first-token-value"', '"wildcard-token-value"']);
      assert.match(await kdig(name, "TXT"), /_acme-challenge\.www\.dyn\.test\.\s+10\s+IN\s+TXT/);
    });
    for (const key of keys) await acme.delete(key);
    await onEach(async (r) => {
      await waitFor(`${r.name} no longer answers the TXT`, async () =>
        /status: NXDOMAIN/.test(await kdig(name, "TXT")),
      );
    });
    const serials = await waitFor("serials equal after the delete", async () => {
      const s = await Promise.all([clientA, clientB].map(serialVia));
      return s.every((x) => x === s[0]) && s[0] !== serialBefore ? s : undefined;
    });
    assert.ok((serials[0] ?? 0) > (serialBefore ?? 0));
  });

  it("DeleteRecord sent to replica B removes the record from both", async () => {
    await natsUp();
    await upsertAnswered(clientA, "gone.dyn.test", "192.0.2.78");
    const res = await unary(clientB, "deleteRecord", { name: "GONE.dyn.test", type: "a", value: "" });
    assert.equal(res.deleted, 1);
    await onEach(async (r) => {
      await waitFor(`${r.name} answers NXDOMAIN`, async () =>
        /status: NXDOMAIN/.test(await kdig("gone.dyn.test", "A")),
      );
    });
    await assert.rejects(
      unary(clientA, "deleteRecord", { name: "gone.dyn.test", type: "A", value: "" }),
      /NOT_FOUND|no dynamic A record/,
    );
    await assert.rejects(
      unary(clientA, "deleteRecord", { name: "ns1.dyn.test", type: "A", value: "" }),
      /comes from the config/,
    );
  });

  it("refuses bad records with INVALID_ARGUMENT and a message that says what is wrong", async () => {
    await natsUp();
    const cases: [dnsV1.UpsertRecordRequest, RegExp][] = [
      [
        { name: "x.dyn.test", type: "A", ttl: 60, value: "300.1.1.1" },
        /"300\.1\.1\.1" is not an IPv4 address/,
      ],
      [
        { name: "x.other.test", type: "A", ttl: 60, value: "192.0.2.1" },
        /x\.other\.test is in no served zone/,
      ],
      [{ name: "x.dyn.test", type: "SOA", ttl: 60, value: "a b 1 2 3 4 5" }, /type "SOA" cannot be set/],
      [{ name: "www.dyn.test", type: "A", ttl: 60, value: "192.0.2.1" }, /www\.dyn\.test is a CNAME/],
      [{ name: "x.dyn.test", type: "MX", ttl: 60, value: "mail.dyn.test" }, /MX takes 2 fields/],
      [{ name: `${"a".repeat(64)}.dyn.test`, type: "A", ttl: 60, value: "192.0.2.1" }, /64 octets/],
    ];
    for (const [request, message] of cases) {
      await assert.rejects(unary(clientA, "upsertRecord", request), (err: Error & { code?: number }) => {
        assert.equal(err.code, 3, `${JSON.stringify(request)}: INVALID_ARGUMENT`);
        assert.match(err.message, message);
        return true;
      });
    }
    // The passing twin: the same name with a good address is taken.
    const res = await unary(clientA, "upsertRecord", {
      name: "x.dyn.test",
      type: "A",
      ttl: 60,
      value: "192.0.2.9",
    });
    assert.equal(res.record?.value, "192.0.2.9");
  });

  it("keeps serving what it has while NATS is down, and follows the bucket again once it is back", async () => {
    await natsUp();
    await upsertAnswered(clientA, "kept.dyn.test", "192.0.2.44");
    await natsDown();
    await onEach(async () => assert.deepEqual(await short("kept.dyn.test", "A"), ["192.0.2.44"]));
    await assert.rejects(
      unary(clientA, "upsertRecord", { name: "x.dyn.test", type: "A", ttl: 60, value: "192.0.2.45" }),
      /UNAVAILABLE/,
    );
    // A new, empty server on the same port: the buckets are empty now, and the replicas follow them.
    const kv = await natsUp();
    const name = "_acme-challenge.dyn.test";
    await waitFor(
      "a value put after the restart is answered by both",
      async () => {
        await kv.put(
          `dns01.${createHash("sha256").update(`${name}\nafter-restart`).digest("hex").slice(0, 32)}`,
          JSON.stringify({ name, value: "after-restart", expiresAt: Date.now() + 60_000 }),
        );
        const seen: boolean[] = [];
        await onEach(async () => {
          seen.push((await short(name, "TXT"))[0] === '"after-restart"');
        });
        return seen.every(Boolean);
      },
      30_000,
      500,
    );
    await onEach(async (r) =>
      waitFor(`${r.name} forgot kept.dyn.test (the new bucket does not have it)`, async () =>
        /status: NXDOMAIN/.test(await kdig("kept.dyn.test", "A")),
      ),
    );
  });

  it("NATS refused the dns replicas nothing: their user writes dns-records and reads acme", async () => {
    const acme = await natsUp();
    await upsertAnswered(clientA, "allowed.dyn.test", "192.0.2.46");
    const name = "_acme-challenge.allowed.dyn.test";
    await acme.put(
      `dns01.${createHash("sha256").update(`${name}\nallowed`).digest("hex").slice(0, 32)}`,
      JSON.stringify({ name, value: "allowed", expiresAt: Date.now() + 60_000 }),
    );
    await onEach(async (r) =>
      waitFor(`${r.name} answers the TXT`, async () => (await short(name, "TXT"))[0] === '"allowed"'),
    );
    // Every server this file started so far (this one just served both permissions).
    assert.ok(servers.includes(nats as NatsServerHandle));
    assert.deepEqual(
      servers.flatMap((s) => s.permissionViolations),
      [],
    );
  });
});
