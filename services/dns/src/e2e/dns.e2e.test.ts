import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { dnsV1 } from "@switchyard/proto";
import { createGrpcClient, unary } from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  udpExchange,
  waitFor,
} from "@switchyard/testkit";
import { exampleZone, header, query } from "../testing/test-fixtures.js";

const run = promisify(execFile);
const bigTxt = [
  ...Array.from({ length: 12 }, (_, i) => `big TXT "${String(i).repeat(200)}"`),
  ...Array.from({ length: 3 }, (_, i) => `mid TXT "${String(i).repeat(200)}"`),
].join("\n");

describe("dns through the edge, 2 replicas, dig and kdig", () => {
  let dir: string;
  let edge: EdgeHarness;
  let port: number;
  const replicas: DnsReplica[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-dns-"));
    const file = join(dir, "example.test.zone");
    await writeFile(file, `${exampleZone}${bigTxt}\n`);
    port = await freePort();
    edge = await startEdge({
      dns: {
        ports: [port],
        zones: [
          { origin: "example.test", file },
          {
            origin: "inline.test",
            soa: { mname: "ns1", rname: "hostmaster", minimum: 120 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.10" },
              { name: "@", type: "MX", value: { preference: 5, exchange: "mx" } },
              { name: "mx", type: "AAAA", value: "2001:db8::5" },
            ],
          },
        ],
      },
    });
    replicas.push(await startDnsReplica(edge, { name: "dns-a" }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b" }));
  });

  after(async () => {
    for (const r of replicas) {
      r.process.child.kill("SIGCONT");
      await r.stop();
    }
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const dig = async (...args: string[]) =>
    (await run("dig", ["@127.0.0.1", "-p", String(port), "+time=2", "+tries=1", ...args])).stdout;
  const kdig = async (...args: string[]) =>
    (await run("kdig", ["@127.0.0.1", "-p", String(port), "+time=2", "+retry=0", ...args])).stdout;
  const short = async (...args: string[]) => (await dig("+short", ...args)).trim().split("\n");

  it("answers A, AAAA, TXT and CNAME chains over UDP (dig) and TCP (kdig +tcp)", async () => {
    assert.deepEqual(await short("example.test", "A"), ["192.0.2.1"]);
    assert.deepEqual(await short("mail.example.test", "AAAA"), ["2001:db8::25"]);
    assert.deepEqual(await short("txt.example.test", "TXT"), ['"hello world" "second \\"quoted\\""']);
    assert.deepEqual(await short("chain1.example.test", "A"), [
      "chain2.example.test.",
      "www.example.test.",
      "web.example.test.",
      "192.0.2.80",
    ]);
    const tcp = await kdig("+tcp", "www.example.test", "A");
    assert.match(tcp, /status: NOERROR/);
    assert.match(tcp, /Flags: qr aa rd/);
    assert.match(tcp, /web\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.80/);
    assert.deepEqual(await short("inline.test", "MX"), ["5 mx.inline.test."]);
  });

  it("answers MX with the exchange's addresses in additional", async () => {
    const out = await dig("+norec", "example.test", "MX");
    assert.match(out, /flags: qr aa;/);
    assert.match(
      out,
      /ADDITIONAL SECTION:\nmail\.example\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.25\nmail\.example\.test\.\s+300\s+IN\s+AAAA\s+2001:db8::25/,
    );
  });

  it("answers wildcards, NXDOMAIN and NODATA with the SOA, and REFUSED outside the zones", async () => {
    assert.deepEqual(await short("anything.wild.example.test", "A"), ["192.0.2.99"]);
    const nx = await dig("nope.example.test", "A");
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(
      nx,
      /AUTHORITY SECTION:\nexample\.test\.\s+60\s+IN\s+SOA\s+ns1\.example\.test\. hostmaster\.example\.test\. 2024010101/,
    );
    const nodata = await dig("web.example.test", "AAAA");
    assert.match(nodata, /status: NOERROR.*\n.*ANSWER: 0, AUTHORITY: 1/);
    const inlineNx = await dig("nope.inline.test", "A");
    assert.match(inlineNx, /inline\.test\.\s+120\s+IN\s+SOA/);
    const refused = await kdig("example.org", "A");
    assert.match(refused, /status: REFUSED/);
    assert.doesNotMatch(refused, /Flags: qr aa/);
  });

  it("echoes the question in the case it was sent", async () => {
    const out = await dig("+tcp", "WwW.ExAmPlE.TeSt", "A");
    assert.match(out, /;WwW\.ExAmPlE\.TeSt\.\s+IN\s+A/);
    assert.match(await dig("MaIl.Example.Test", "A"), /;MaIl\.Example\.Test\.\s+IN\s+A/);
  });

  it("honours EDNS sizes: TC over UDP past 512 or the client's size, whole over TCP, OPT echoed", async () => {
    const small = await dig("+ignore", "+bufsize=512", "big.example.test", "TXT");
    assert.match(small, /flags: qr aa tc rd;/);
    assert.match(small, /OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232/);
    const noEdns = await dig("+ignore", "+noedns", "big.example.test", "TXT");
    assert.match(noEdns, /flags: qr aa tc rd;/);
    const big = await dig("+ignore", "+bufsize=4096", "big.example.test", "TXT");
    assert.match(big, /flags: qr aa tc rd;/, "UDP answers stop at our 1232 octets");
    const mid = await dig("+ignore", "+bufsize=1232", "mid.example.test", "TXT");
    assert.doesNotMatch(mid, /flags: qr aa tc/);
    assert.match(mid, /ANSWER: 3/);
    const retried = await dig("+bufsize=512", "big.example.test", "TXT");
    assert.match(retried, /ANSWER: 12/, "dig retries over TCP after TC");
    const badvers = await dig("+edns=1", "+noednsneg", "www.example.test", "A");
    assert.match(badvers, /status: BADVERS/);
  });

  it("answers several queries on one TCP connection (kdig +tcp +keepopen)", async () => {
    const out = await kdig(
      "+tcp",
      "+keepopen",
      "www.example.test",
      "A",
      "mail.example.test",
      "AAAA",
      "nope.example.test",
      "A",
    );
    assert.equal(out.match(/From 127\.0\.0\.1@\d+\(TCP\)/g)?.length, 3);
    assert.match(out, /192\.0\.2\.80/);
    assert.match(out, /2001:db8::25/);
    assert.match(out, /status: NXDOMAIN/);
  });

  it("answers pipelined queries split across and batched in TCP segments", async () => {
    const { connect } = await import("node:net");
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise((r) => socket.once("connect", r));
    const frame = (q: Buffer) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    const frames = Buffer.concat([1, 2, 3].map((id) => frame(query("www.example.test", 1, { id }))));
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    // Nagle off and the first write flushed to the kernel before the second: two segments, no sleep.
    socket.setNoDelay(true);
    await new Promise((r) => socket.write(frames.subarray(0, 5), r));
    socket.write(frames.subarray(5));
    const ids = await waitFor(
      () => {
        const all = Buffer.concat(received);
        let pos = 0;
        const seen: number[] = [];
        while (all.length - pos >= 2 && all.length - pos - 2 >= all.readUInt16BE(pos)) {
          seen.push(all.readUInt16BE(pos + 2));
          pos += 2 + all.readUInt16BE(pos);
        }
        return seen.length === 3 ? seen : null;
      },
      { timeout: 10_000, interval: 20, what: "three answers" },
    );
    socket.destroy();
    assert.deepEqual(ids, [1, 2, 3]);
  });

  it("answers FORMERR to a malformed packet, drops garbage, and still answers after", async () => {
    const bad = query("www.example.test", 1);
    bad.writeUInt16BE(5, 4);
    assert.equal(header(await udpExchange(port, bad)).rcode, 1);
    const loop = Buffer.concat([
      query("www.example.test", 1),
      Buffer.from([0xc0, 0x22, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
    ]);
    loop.writeUInt16BE(1, 10);
    assert.equal(header(await udpExchange(port, loop)).rcode, 1);
    await assert.rejects(udpExchange(port, Buffer.from([1, 2, 3]), "127.0.0.1", 300));
    assert.deepEqual(await short("www.example.test", "A"), ["web.example.test.", "192.0.2.80"]);
  });

  it("keeps answering on the same port when either replica is stopped (both read the shared socket)", async () => {
    for (const [stopped, other] of [
      [replicas[0], replicas[1]],
      [replicas[1], replicas[0]],
    ] as const) {
      assert.ok(stopped && other);
      const before = await queriesCounted(other);
      stopped.process.child.kill("SIGSTOP");
      try {
        for (let i = 0; i < 5; i++) assert.deepEqual(await short("example.test", "A"), ["192.0.2.1"]);
      } finally {
        stopped.process.child.kill("SIGCONT");
      }
      assert.ok(
        (await queriesCounted(other)) >= before + 5,
        `${other.name} answered while ${stopped.name} was stopped`,
      );
    }
  });

  it("lists zones and records over DnsAdmin gRPC", async () => {
    const replica = replicas[0] as DnsReplica;
    const client = createGrpcClient(dnsV1.DnsAdminClient, replica.grpc, edge.token);
    try {
      const zones = await unary(client, "listZones", {});
      assert.deepEqual(
        zones.zones.map((z) => [z.origin, z.serial]),
        [
          ["example.test", 2024010101],
          ["inline.test", 1],
        ],
      );
      const records = await unary(client, "listRecords", { zone: "Inline.Test." });
      assert.ok(
        records.records.some(
          (r) => r.name === "inline.test." && r.type === "MX" && r.value === "5 mx.inline.test.",
        ),
      );
      await assert.rejects(unary(client, "listRecords", { zone: "nope.test" }), /not served/);
    } finally {
      client.close();
    }
  });
});

function queriesCounted(replica: DnsReplica): Promise<number> {
  return scrapeMetric(replica.metricsPort, "switchyard_dns_queries_total", { transport: "udp" });
}
