import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dnsV1 } from "@switchyard/proto";
import { createGrpcClient, ensureNatsAuth, unary } from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type NatsServerHandle,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  startNatsServer,
  waitFor,
} from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { kdig } from "../testing/kdig.js";
import { startUnbound, type Unbound } from "../testing/unbound.js";

const OPT_LENGTH = 11;
const DOH_DOMAIN = "doh.test";

const types = (lines: string[]) => lines.map((l) => `${l.split(" ")[0]} ${l.split(" ")[3]}`);

describe("DNSSEC online signing, validated by Unbound, 2 replicas sharing the key through NATS KV", () => {
  let dir: string;
  let edge: EdgeHarness;
  let nats: NatsServerHandle;
  let port: number;
  const replicas: DnsReplica[] = [];
  let unbound: Unbound;
  let forgedUnbound: Unbound;
  let proxy: ReturnType<typeof createSocket>;
  let anchors: string[];
  let dohPort: number;
  let caFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-dnssec-"));
    port = await freePort();
    const natsPort = await freePort();
    await ensureNatsAuth(join(dir, "auth"));
    const made = await makeSelfSignedCertificate({ names: [DOH_DOMAIN], days: 2 });
    caFile = join(dir, "doh-cert.pem");
    const keyFile = join(dir, "doh-key.pem");
    await writeFile(caFile, made.certPem);
    await writeFile(keyFile, made.keyPem);
    dohPort = await freePort();
    nats = await startNatsServer({ jetstream: true, port: natsPort, auth: { dir: join(dir, "auth") } });
    edge = await startEdge({
      nats: { servers: [nats.url], credentialsFile: join(dir, "auth", "{role}.cred") },
      dns: {
        ports: [port],
        doh: { domain: DOH_DOMAIN, port: dohPort, certFile: caFile, keyFile },
        zones: [
          {
            origin: "signed.test",
            dnssec: { algorithm: "ecdsap256sha256" },
            soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.53" },
              { type: "A", value: "192.0.2.1" },
              { type: "MX", value: "10 mail" },
              { name: "mail", type: "A", value: "192.0.2.25" },
              { name: "www", type: "CNAME", value: "@" },
              { name: "*.wild", type: "A", value: "192.0.2.99" },
              { name: "deep.ent", type: "A", value: "192.0.2.7" },
              { name: "sub", type: "NS", value: "ns.sub" },
              { name: "ns.sub", type: "A", value: "192.0.2.200" },
              { name: "forged", type: "TXT", value: "flip me" },
              ...Array.from({ length: 6 }, (_, i) => ({
                name: "big",
                type: "TXT" as const,
                value: String(i).repeat(200),
              })),
            ],
          },
          {
            origin: "ed.test",
            dnssec: { algorithm: "ed25519" },
            soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.53" },
              { name: "www", type: "AAAA", value: "2001:db8::1" },
            ],
          },
        ],
      },
    });
    const env = { SWITCHYARD_KV_KEY_FILE: join(dir, "kv.key") };
    // Started together: both find no key and race to create it; KV create lets one win.
    replicas.push(
      ...(await Promise.all([
        startDnsReplica(edge, { name: "dns-a", env }),
        startDnsReplica(edge, { name: "dns-b", env }),
      ])),
    );
    for (const r of replicas)
      for (const zone of ["signed.test", "ed.test"])
        await r.process.waitForLine((l) => l.msg === "dnssec key ready" && l.zone === zone, 30_000);
    // The parent's DS, as a registrar would take it from the CDS at the apex (RFC 8078).
    anchors = [];
    for (const zone of ["signed.test", "ed.test"]) {
      const cds = (await kdig(port, "+norec", zone, "CDS")).answer;
      assert.equal(cds.length, 1, `one CDS at ${zone}`);
      anchors.push(`${zone}. DS ${(cds[0] as string).split(" ").slice(4).join(" ")}`);
    }
    unbound = await startUnbound(dir, anchors, [
      { zone: "signed.test", port },
      { zone: "ed.test", port },
    ]);
    // A proxy in front of the edge that flips the last signature byte of answers for forged.signed.test.
    proxy = createSocket("udp4");
    const pending = new Map<number, { address: string; port: number }>();
    const upstream = createSocket("udp4");
    upstream.on("message", (msg) => {
      const to = pending.get(msg.readUInt16BE(0));
      if (!to) return;
      if (msg.includes(Buffer.from("\u0006forged", "latin1")) && msg.readUInt16BE(6) > 0) {
        const at = msg.length - OPT_LENGTH - 1;
        msg[at] = (msg[at] as number) ^ 0x01;
      }
      proxy.send(msg, to.port, to.address);
    });
    proxy.on("message", (msg, rinfo) => {
      pending.set(msg.readUInt16BE(0), rinfo);
      upstream.send(msg, port, "127.0.0.1");
    });
    proxy.on("close", () => upstream.close());
    await new Promise<void>((resolve) => upstream.bind(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => proxy.bind(0, "127.0.0.1", resolve));
    forgedUnbound = await startUnbound(dir, anchors, [{ zone: "signed.test", port: proxy.address().port }]);
  });

  after(async () => {
    await unbound?.stop();
    await forgedUnbound?.stop();
    proxy?.close();
    for (const r of replicas) await r.stop();
    await edge?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("both replicas sign with the one key the race left in KV", async () => {
    const tags = replicas.map((r) =>
      r.process.lines
        .filter((l) => typeof l !== "string" && l.msg === "dnssec key ready")
        .map((l) => (l as { zone: string; keyTag: number }).zone + (l as { keyTag: number }).keyTag)
        .sort(),
    );
    assert.deepEqual(tags[0], tags[1]);
    const created = replicas.flatMap((r) =>
      r.process.lines.filter(
        (l) => typeof l !== "string" && l.msg === "dnssec key created" && l.zone === "signed.test",
      ),
    );
    assert.equal(created.length, 1);
  });

  it("a repeated DO=1 question is answered from the signed cache: no new signature", async () => {
    // Only replica a reads the shared socket meanwhile, so every question meets the same cache.
    const [a, b] = replicas as [DnsReplica, DnsReplica];
    const signatures = () => scrapeMetric(a.metricsPort, "switchyard_dns_signatures_total");
    b.process.child.kill("SIGSTOP");
    try {
      await kdig(port, "+dnssec", "+norec", "cached.signed.test", "A");
      const before = await signatures();
      for (let i = 0; i < 5; i++) await kdig(port, "+dnssec", "+norec", "cached.signed.test", "A");
      assert.equal(await signatures(), before);
      await kdig(port, "+dnssec", "+norec", "uncached.signed.test", "A");
      assert.ok((await signatures()) > before, "a new name is signed");
    } finally {
      b.process.child.kill("SIGCONT");
    }
  });

  it("DO=1 gets an RRSIG over every RRset, DO=0 none; the DNSKEY is published with flags 257", async () => {
    const signed = await kdig(port, "+dnssec", "+norec", "signed.test", "MX");
    assert.deepEqual(types(signed.answer), ["signed.test. MX", "signed.test. RRSIG"]);
    assert.deepEqual(types(signed.additional), ["mail.signed.test. A", "mail.signed.test. RRSIG"]);
    const plain = await kdig(port, "+norec", "signed.test", "MX");
    assert.deepEqual(types(plain.answer), ["signed.test. MX"]);
    assert.deepEqual(types(plain.additional), ["mail.signed.test. A"]);
    const keys = await kdig(port, "+dnssec", "+norec", "signed.test", "DNSKEY");
    assert.match(keys.answer[0] as string, /^signed\.test\. 3600 IN DNSKEY 257 3 13 /);
    assert.deepEqual(types(keys.answer), ["signed.test. DNSKEY", "signed.test. RRSIG"]);
    const tcp = await kdig(port, "+tcp", "+dnssec", "+norec", "www.ed.test", "AAAA");
    assert.deepEqual(types(tcp.answer), ["www.ed.test. AAAA", "www.ed.test. RRSIG"]);
    assert.match(tcp.answer[1] as string, / RRSIG AAAA 15 3 /);
  });

  it("kdig +dnssec over DoH gets the signed answer; without DO none", async () => {
    const doh = [
      "-p",
      String(dohPort),
      `+tls-ca=${caFile}`,
      `+tls-hostname=${DOH_DOMAIN}`,
      `+tls-sni=${DOH_DOMAIN}`,
      "+https",
    ];
    const signed = await kdig(0, ...doh, "+dnssec", "+norec", "www.signed.test", "A");
    assert.deepEqual(types(signed.answer), [
      "www.signed.test. CNAME",
      "www.signed.test. RRSIG",
      "signed.test. A",
      "signed.test. RRSIG",
    ]);
    const plain = await kdig(0, ...doh, "+norec", "www.signed.test", "A");
    assert.deepEqual(types(plain.answer), ["www.signed.test. CNAME", "signed.test. A"]);
  });

  it("NXDOMAIN with DO=1 is compact denial: NOERROR, NSEC with NXNAME; with DO=0 it stays NXDOMAIN", async () => {
    const compact = await kdig(port, "+dnssec", "+norec", "nope.signed.test", "A");
    assert.equal(compact.status, "NOERROR");
    assert.deepEqual(types(compact.authority), [
      "signed.test. SOA",
      "signed.test. RRSIG",
      "nope.signed.test. NSEC",
      "nope.signed.test. RRSIG",
    ]);
    assert.match(
      compact.authority[2] as string,
      /NSEC \\000\.nope\.signed\.test\. RRSIG NSEC (NXNAME|TYPE128)$/,
    );
    assert.equal((await kdig(port, "+norec", "nope.signed.test", "A")).status, "NXDOMAIN");
  });

  it("a referral carries the NSEC proving there is no DS, and unsigned glue", async () => {
    const referral = await kdig(port, "+dnssec", "+norec", "host.sub.signed.test", "A");
    assert.deepEqual(types(referral.authority), [
      "sub.signed.test. NS",
      "sub.signed.test. NSEC",
      "sub.signed.test. RRSIG",
    ]);
    assert.match(referral.authority[1] as string, /NSEC \\000\.sub\.signed\.test\. NS RRSIG NSEC$/);
    assert.deepEqual(types(referral.additional), ["ns.sub.signed.test. A"]);
  });

  it("a signed answer over the client's UDP size is truncated (TC); over TCP it comes whole", async () => {
    const udp = await kdig(port, "+dnssec", "+norec", "+bufsize=1232", "+ignore", "big.signed.test", "TXT");
    assert.ok(udp.flags.includes("tc"), `flags ${udp.flags.join(" ")}`);
    const tcp = await kdig(port, "+tcp", "+dnssec", "+norec", "big.signed.test", "TXT");
    assert.equal(tcp.answer.length, 7);
    assert.equal(types(tcp.answer).at(-1), "big.signed.test. RRSIG");
  });

  for (const [what, name, type, expect] of [
    ["a positive answer", "signed.test", "A", "signed.test. A"],
    ["a CNAME chain", "www.signed.test", "A", "www.signed.test. CNAME"],
    ["a wildcard answer", "anything.wild.signed.test", "A", "anything.wild.signed.test. A"],
    ["an Ed25519 zone", "www.ed.test", "AAAA", "www.ed.test. AAAA"],
  ] as const) {
    it(`Unbound validates ${what}: AD set`, async () => {
      const r = await kdig(unbound.port, "+dnssec", name, type);
      assert.equal(r.status, "NOERROR");
      assert.ok(r.flags.includes("ad"), `flags ${r.flags.join(" ")}`);
      assert.equal(types(r.answer).filter((t) => !t.endsWith("RRSIG"))[0], expect);
    });
  }

  for (const [what, name, type] of [
    ["a name that does not exist", "nope.signed.test", "A"],
    ["NODATA", "signed.test", "TXT"],
    ["NODATA at an empty non-terminal", "ent.signed.test", "A"],
    ["NODATA at a wildcard", "x.wild.signed.test", "TXT"],
    ["a name that does not exist (Ed25519)", "nope.ed.test", "A"],
  ] as const) {
    it(`Unbound validates the denial of ${what}: AD set, no answer`, async () => {
      const r = await kdig(unbound.port, "+dnssec", name, type);
      assert.equal(r.status, "NOERROR");
      assert.ok(r.flags.includes("ad"), `flags ${r.flags.join(" ")}`);
      assert.deepEqual(r.answer, []);
    });
  }

  it("a TXT upserted at runtime through each replica is answered signed and validated (AD)", async () => {
    for (const r of replicas) {
      const client = createGrpcClient(dnsV1.DnsAdminClient, r.grpc, edge.token);
      try {
        const value = `token-${r.name}`;
        await unary(client, "upsertRecord", {
          name: `_acme-challenge.${r.name}.signed.test`,
          type: "TXT",
          ttl: 60,
          value: `"${value}"`,
        });
        // Written through this replica; the other one may apply it a moment later (either answers).
        const v = await waitFor(`unbound answers the TXT upserted via ${r.name}`, async () => {
          const d = await kdig(unbound.port, "+dnssec", `_acme-challenge.${r.name}.signed.test`, "TXT");
          return d.answer.length > 0 ? d : undefined;
        });
        assert.ok(v.flags.includes("ad"), `flags ${v.flags.join(" ")}`);
        assert.match(v.answer[0] as string, new RegExp(`TXT "${value}"$`));
      } finally {
        client.close();
      }
    }
  });

  it("an answer with one RRSIG byte flipped is SERVFAIL; the same resolver validates the rest (AD)", async () => {
    const good = await kdig(forgedUnbound.port, "+dnssec", "www.signed.test", "A");
    assert.equal(good.status, "NOERROR");
    assert.ok(good.flags.includes("ad"), `flags ${good.flags.join(" ")}`);
    const direct = await kdig(port, "+dnssec", "+norec", "forged.signed.test", "TXT");
    assert.deepEqual(types(direct.answer), ["forged.signed.test. TXT", "forged.signed.test. RRSIG"]);
    const forged = await kdig(forgedUnbound.port, "+dnssec", "forged.signed.test", "TXT");
    assert.equal(forged.status, "SERVFAIL");
  });
});
