/** End to end: a real edge, a real dns replica with NATS KV, and the built yardctl as a child process. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { dnsV1 } from "@switchyard/proto";
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
import { runCli } from "../cli-fixture.js";

const run = promisify(execFile);

describe("yardctl dns against a real dns replica", () => {
  let nats: NatsServerHandle;
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let port: number;

  before(async () => {
    nats = await startNatsServer({ jetstream: true });
    port = await freePort();
    edge = await startEdge({
      nats: { servers: [nats.url] },
      dns: {
        ports: [port],
        zones: [
          {
            origin: "cli.test",
            soa: { mname: "ns1", rname: "hostmaster", serial: 5, minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.53" },
            ],
          },
          {
            origin: "sig.test",
            dnssec: { algorithm: "ed25519" },
            soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
            records: [{ type: "NS", value: "ns1" }],
          },
        ],
      },
    });
    replica = await startDnsReplica(edge, {
      name: "dns-cli",
      env: { SWITCHYARD_KV_KEY_FILE: join(edge.dir, "kv.key") },
    });
    await replica.process.waitForLine(
      (l) => l.msg === "kv snapshot applied" && l.bucket === "records",
      20_000,
    );
  });

  after(async () => {
    await replica?.stop();
    await edge?.stop();
    await nats?.stop();
  });

  const yardctl = (...argv: string[]) =>
    runCli([...argv, "--dns", replica.grpc, "--token-file", edge.tokenFile], edge.dir);
  const dig = async (name: string, type: string) =>
    (await run("kdig", ["@127.0.0.1", "-p", String(port), "+short", "+time=2", name, type])).stdout.trim();

  test("zones prints a table and --json the response", async () => {
    const table = await yardctl("dns", "zones");
    assert.equal(table.code, 0, table.stderr);
    // The serial is the config's (5) plus one per dynamic change: the upsert test may run first.
    const json = JSON.parse((await yardctl("dns", "zones", "--json")).stdout) as dnsV1.ListZonesResponse;
    const serial = json.zones[0]?.serial ?? 0;
    assert.ok(serial >= 5, `serial ${serial}`);
    assert.match(
      table.stdout,
      new RegExp(
        `^ORIGIN\\s+SERIAL\\s+RECORDS\\s+FILE\\ncli\\.test\\s+${serial}\\s+3\\s+-\\nsig\\.test\\s+1\\s+\\d+\\s+-\\n$`,
      ),
    );
    assert.deepEqual(
      json.zones.map((z) => z.origin),
      ["cli.test", "sig.test"],
    );
  });

  test("upsert serves the record, records lists it as api, delete removes it", async () => {
    const up = await yardctl("dns", "upsert", "mail.cli.test", "mx", "300", "10", "mx1.cli.test");
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stdout,
      /^mail\.cli\.test\. 300 MX 10 mx1\.cli\.test\. set in zone cli\.test \(revision \d+\)\n$/,
    );
    assert.equal(await dig("mail.cli.test", "MX"), "10 mx1.cli.test.");

    const records = await yardctl("dns", "records", "cli.test");
    assert.match(records.stdout, /^NAME\s+TYPE\s+TTL\s+VALUE\s+SOURCE\n/);
    assert.match(records.stdout, /mail\.cli\.test\.\s+MX\s+300\s+10 mx1\.cli\.test\.\s+api/);
    assert.match(records.stdout, /ns1\.cli\.test\.\s+A\s+\d+\s+192\.0\.2\.53\s+config/);
    const zones = JSON.parse((await yardctl("dns", "zones", "--json")).stdout) as dnsV1.ListZonesResponse;
    assert.ok((zones.zones[0]?.serial ?? 0) > 5, "the serial moved");

    const del = await yardctl("dns", "delete", "mail.cli.test", "MX", "10 mx1.cli.test");
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "deleted 1 MX record at mail.cli.test\n");
    await waitFor("the MX is gone", async () => (await dig("mail.cli.test", "MX")) === "");
  });

  test("a bad record or an unknown zone exits 1 with the service's message", async () => {
    const bad = await yardctl("dns", "upsert", "x.cli.test", "A", "60", "not-an-ip");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT/);
    assert.match(bad.stderr, /"not-an-ip" is not an IPv4 address/);
    const missing = await yardctl("dns", "records", "nope.test");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND/);
    const usage = await yardctl("dns", "upsert", "x.cli.test", "A", "soon", "192.0.2.1");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /ttl "soon" is not a number of seconds/);
  });

  test("ds prints the DS of a signed zone, the one its apex serves as CDS; an unsigned zone is refused", async () => {
    await replica.process.waitForLine((l) => l.msg === "dnssec key ready" && l.zone === "sig.test", 20_000);
    const ds = await yardctl("dns", "ds", "SIG.test.");
    assert.equal(ds.code, 0, ds.stderr);
    const cds = await dig("sig.test", "CDS");
    assert.match(cds, /^\d+ 15 2 [0-9A-F]{64}$/);
    assert.equal(ds.stdout.split("\n")[0], `sig.test. 3600 IN DS ${cds}`);
    assert.match(ds.stdout, /\n; sig\.test\. 3600 IN DNSKEY 257 3 15 \S+\n$/);
    const unsigned = await yardctl("dns", "ds", "cli.test");
    assert.notEqual(unsigned.code, 0);
    assert.match(unsigned.stderr, /zone cli\.test is not signed/);
  });

  test("rollover: start, status, finish refused before the TTL and before start, --force, cleanup", async () => {
    await replica.process.waitForLine((l) => l.msg === "dnssec key ready" && l.zone === "sig.test", 20_000);
    const early = await yardctl("dns", "rollover", "finish", "sig.test");
    assert.equal(early.code, 1);
    assert.equal(
      early.stderr,
      "yardctl: DnsAdmin.FinishRollover failed: zone sig.test: no rollover is started (no published key); `rollover start sig.test` first (FAILED_PRECONDITION)\n",
    );
    const before = JSON.parse((await yardctl("dns", "rollover", "status", "sig.test", "--json")).stdout);
    assert.equal(before.phase, "steady");
    const old = before.keys[0].keyTag as number;

    const start = await yardctl("dns", "rollover", "start", "sig.test");
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^zone sig\.test \(ed25519\): published, DNSKEY TTL 3600 s/);
    assert.match(
      start.stdout,
      new RegExp(`\\n\\s*${old}\\s+active\\s+\\S+\\s+-\\s+sig\\.test\\. 3600 IN DS ${old} 15 2 `),
    );
    assert.match(start.stdout, /\n\s*\d+\s+published\s+\S+\s+yes\s+sig\.test\. 3600 IN DS /);
    assert.match(start.stdout, /\nwaiting for: the DNSKEY TTL \(3600 s\) to pass/);
    // The replica itself is no parent: it has no DS to give, and the status says so.
    const parent = await yardctl("dns", "rollover", "status", "sig.test", "--parent", `127.0.0.1:${port}`);
    assert.equal(parent.code, 0, parent.stderr);
    assert.match(parent.stdout, /\nparent DS: 127\.0\.0\.1:\d+/);
    assert.equal((await dig("sig.test", "DNSKEY")).split("\n").length, 2);

    const refused = await yardctl("dns", "rollover", "finish", "sig.test");
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^yardctl: DnsAdmin\.FinishRollover failed: zone sig\.test: the new key was published at \S+; resolvers may cache the old DNSKEY RRset for 3600 s, so finish at \S+ or later \(\d+ s from now\), or with --force \(FAILED_PRECONDITION\)\n$/,
    );
    const finish = await yardctl("dns", "rollover", "finish", "sig.test", "--force");
    assert.equal(finish.code, 0, finish.stderr);
    assert.match(finish.stdout, new RegExp(`\\n\\s*${old}\\s+retired\\s`));
    const cleanup = await yardctl("dns", "rollover", "cleanup", "sig.test", "--force");
    assert.equal(cleanup.code, 0, cleanup.stderr);
    const after = JSON.parse((await yardctl("dns", "rollover", "status", "sig.test", "--json")).stdout);
    assert.equal(after.phase, "steady");
    assert.equal(after.keys.length, 1);
    assert.notEqual(after.keys[0].keyTag, old);
    assert.equal((await dig("sig.test", "DNSKEY")).split("\n").length, 1);
  });
});
