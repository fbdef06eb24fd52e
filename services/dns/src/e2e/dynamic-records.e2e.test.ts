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
  let acme: KV;
  let port: number;
  let natsPort: number;
  const replicas: DnsReplica[] = [];
  const clients: InstanceType<typeof dnsV1.DnsAdminClient>[] = [];

  // The per-role NATS users of npm start and compose, made before the server first starts.
  let authDir: string;
  let certsLogin: string;
  const servers: NatsServerHandle[] = [];
  const startNats = async () => {
    const server = await startNatsServer({ jetstream: true, port: natsPort, auth: { dir: authDir } });
    servers.push(server);
    return server;
  };
  /** The test writes the acme bucket as the certs service does, with its login. */
  const connectAsCerts = (url: string) =>
    connectNats({
      servers: url,
      name: "dns-e2e",
      logger: createLogger("test", { level: "silent" }),
      credentialsFile: certsLogin,
    });

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
    replicas.push(await startDnsReplica(edge, { name: "dns-a" }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b" }));
    for (const r of replicas) clients.push(createGrpcClient(dnsV1.DnsAdminClient, r.grpc, edge.token));
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const r of replicas) {
      r.process.child.kill("SIGCONT");
      await r.stop();
    }
    await nc?.close();
    await nats?.stop();
    await edge?.stop();
    if (authDir) await rm(authDir, { recursive: true, force: true });
  });

  const kdig = async (...args: string[]) =>
    (await run("kdig", ["@127.0.0.1", "-p", String(port), "+time=2", "+retry=1", ...args])).stdout;
  const short = async (name: string, type: string) =>
    (await kdig("+short", name, type)).trim().split("\n").filter(Boolean).sort();

  /** Runs `check` with only one replica reading the shared UDP socket, for each replica in turn. */
  async function onEach(check: (replica: DnsReplica) => Promise<unknown>): Promise<void> {
    for (const only of replicas) {
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

  it("serves the static zone while NATS is unreachable, then connects when it comes up", async () => {
    await onEach(async () => assert.deepEqual(await short("dyn.test", "A"), ["192.0.2.1"]));
    nats = await startNats();
    for (const r of replicas)
      await r.process.waitForLine((l) => l.msg === "kv snapshot applied" && l.bucket === "records", 30_000);
    nc = await connectAsCerts(nats.url);
    acme = await openKv(nc, "acme", { history: 1 });
  });

  it("UpsertRecord sent to replica A is answered by both replicas, with the same new serial", async () => {
    const client = clients[0] as (typeof clients)[number];
    const before = await serialVia(client);
    const res = await unary(client, "upsertRecord", {
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
      const s = await Promise.all(clients.map(serialVia));
      return s.every((x) => x === s[0] && x !== before) ? s : undefined;
    });
    assert.notEqual(serials[0], before);
    await onEach(async () => {
      const soa = await short("dyn.test", "SOA");
      assert.match(soa[0] ?? "", new RegExp(` ${serials[0]} `));
    });
    const listed = await unary(clients[1] as (typeof clients)[number], "listRecords", { zone: "dyn.test" });
    assert.ok(listed.records.some((r) => r.name === "api.dyn.test." && r.source === "api"));
    assert.ok(listed.records.some((r) => r.name === "ns1.dyn.test." && r.source === "config"));
  });

  it("answers a DNS-01 value put into the acme bucket as TXT (TTL 10) on both replicas, and forgets it after a delete", async () => {
    const name = "_acme-challenge.www.dyn.test";
    const values = ["first-token-value", "wildcard-token-value"];
    const keys = values.map(
      (v) => `dns01.${createHash("sha256").update(`${name}\n${v}`).digest("hex").slice(0, 32)}`,
    );
    const serialBefore = await serialVia(clients[0] as (typeof clients)[number]);
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
      const s = await Promise.all(clients.map(serialVia));
      return s.every((x) => x === s[0]) && s[0] !== serialBefore ? s : undefined;
    });
    assert.ok((serials[0] ?? 0) > (serialBefore ?? 0));
  });

  it("DeleteRecord sent to replica B removes the record from both", async () => {
    const res = await unary(clients[1] as (typeof clients)[number], "deleteRecord", {
      name: "API.dyn.test",
      type: "a",
      value: "",
    });
    assert.equal(res.deleted, 1);
    await onEach(async (r) => {
      await waitFor(`${r.name} answers NXDOMAIN`, async () =>
        /status: NXDOMAIN/.test(await kdig("api.dyn.test", "A")),
      );
    });
    await assert.rejects(
      unary(clients[0] as (typeof clients)[number], "deleteRecord", {
        name: "api.dyn.test",
        type: "A",
        value: "",
      }),
      /NOT_FOUND|no dynamic A record/,
    );
    await assert.rejects(
      unary(clients[0] as (typeof clients)[number], "deleteRecord", {
        name: "ns1.dyn.test",
        type: "A",
        value: "",
      }),
      /comes from the config/,
    );
  });

  it("refuses bad records with INVALID_ARGUMENT and a message that says what is wrong", async () => {
    const client = clients[0] as (typeof clients)[number];
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
      await assert.rejects(unary(client, "upsertRecord", request), (err: Error & { code?: number }) => {
        assert.equal(err.code, 3, `${JSON.stringify(request)}: INVALID_ARGUMENT`);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it("keeps serving what it has while NATS is down, and follows the bucket again once it is back", async () => {
    const client = clients[0] as (typeof clients)[number];
    await unary(client, "upsertRecord", { name: "kept.dyn.test", type: "A", ttl: 60, value: "192.0.2.44" });
    await onEach(async (r) =>
      waitFor(
        `${r.name} answers kept.dyn.test`,
        async () => (await short("kept.dyn.test", "A"))[0] === "192.0.2.44",
      ),
    );
    await nc?.close();
    nc = undefined;
    await nats?.stop();
    await onEach(async () => assert.deepEqual(await short("kept.dyn.test", "A"), ["192.0.2.44"]));
    await assert.rejects(
      unary(client, "upsertRecord", { name: "x.dyn.test", type: "A", ttl: 60, value: "192.0.2.45" }),
      /UNAVAILABLE/,
    );
    // A new, empty server on the same port: the buckets are empty now, and the replicas follow them.
    nats = await startNats();
    nc = await connectAsCerts(nats.url);
    const kv = await openKv(nc, "acme", { history: 1 });
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

  it("NATS refused the dns replicas nothing: their user writes dns-records and reads acme", () => {
    assert.equal(servers.length, 2);
    assert.deepEqual(
      servers.flatMap((s) => s.permissionViolations),
      [],
    );
  });
});
