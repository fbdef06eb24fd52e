import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  closedPort,
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type KnotHandle,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  startKnot,
  waitFor,
} from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";

const run = promisify(execFile);

const upstreamZone = (ttl: number) => `$ORIGIN up.test.
$TTL ${ttl}
@    IN SOA ns1 hostmaster 7 3600 900 604800 ${ttl}
     IN NS ns1
ns1  10 IN A 192.0.2.53
www  IN A 198.51.100.80
big  IN TXT ${Array.from({ length: 8 }, (_, i) => `"${String(i).repeat(250)}"`).join(" ")}
`;

describe("forwarding for trusted networks: knotd and a Switchyard DoH server as upstreams", () => {
  let dir: string;
  let edge: EdgeHarness;
  let upstreamEdge: EdgeHarness;
  let knot: KnotHandle | undefined;
  let port: number;
  const replicas: DnsReplica[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-forward-${process.pid}-`));
    knot = await startKnot({ zones: [{ origin: "up.test", text: upstreamZone(3) }] });
    const knotPort = knot.port;

    // A second Switchyard (edge + one dns replica) serving up2.test over DoH.
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const made = await makeSelfSignedCertificate({ names: ["doh.up2.test"], days: 2 });
    await writeFile(cert, made.certPem);
    await writeFile(key, made.keyPem);
    const dohPort = await freePort();
    upstreamEdge = await startEdge({
      dns: {
        ports: [await freePort()],
        doh: { domain: "doh.up2.test", port: dohPort, certFile: cert, keyFile: key },
        zones: [
          {
            origin: "up2.test",
            soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.54" },
              { name: "api", type: "A", ttl: 120, value: "203.0.113.9" },
            ],
          },
        ],
      },
    });
    replicas.push(await startDnsReplica(upstreamEdge, { name: "dns-upstream" }));

    port = await freePort();
    const dead = await closedPort(); // nothing listens there: the dead upstream
    edge = await startEdge({
      dns: {
        ports: [port],
        zones: [
          {
            origin: "local.test",
            soa: { mname: "ns1", rname: "hostmaster", minimum: 60 },
            records: [
              { type: "NS", value: "ns1" },
              { name: "ns1", type: "A", value: "192.0.2.1" },
            ],
          },
        ],
        forward: {
          clients: ["127.0.0.1/32", "::1/128"],
          upstreams: [
            { address: `127.0.0.1:${dead}` },
            {
              address: `127.0.0.1:${dohPort}`,
              protocol: "https",
              url: "https://doh.up2.test/dns-query",
              caFile: cert,
            },
            { address: `127.0.0.1:${knotPort}` },
          ],
          timeoutMs: 700,
          cacheSize: 100,
        },
      },
    });
    replicas.push(await startDnsReplica(edge, { name: "dns-a" }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b" }));
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await edge?.stop();
    await upstreamEdge?.stop();
    await knot?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kdig = async (...args: string[]) =>
    (await run("kdig", ["@127.0.0.1", "-p", String(port), "+time=6", "+retry=0", ...args])).stdout;

  it("forwards a trusted client's question past a dead upstream to knotd, with RA and without AA", async () => {
    const out = await kdig("www.up.test", "A");
    assert.match(out, /status: NOERROR/);
    assert.match(out, /Flags: qr rd ra;/);
    assert.match(out, /www\.up\.test\.\s+\d+\s+IN\s+A\s+198\.51\.100\.80/);
  });

  it("forwards over DoH to the https upstream (the dead one skipped)", async () => {
    const out = await kdig("api.up2.test", "A");
    assert.match(out, /status: NOERROR/);
    assert.match(out, /api\.up2\.test\.\s+1[12]\d\s+IN\s+A\s+203\.0\.113\.9/);
  });

  it("answers its own zones authoritatively (AA, no RA) for the same trusted client", async () => {
    const out = await kdig("ns1.local.test", "A");
    assert.match(out, /Flags: qr aa rd;/);
  });

  it("refuses a client outside forward.clients, over UDP and TCP", async () => {
    for (const transport of ["+notcp", "+tcp"]) {
      const out = await kdig("-b", "127.0.0.2", transport, "www.up.test", "A");
      assert.match(out, /status: REFUSED/, transport);
      assert.doesNotMatch(out, /Flags: [^;]*\bra\b/);
    }
  });

  it("retries over TCP when the upstream truncates, and truncates for a small UDP client", async () => {
    const tcp = await kdig("+tcp", "big.up.test", "TXT");
    assert.match(tcp, /ANSWER: 1;/);
    assert.match(tcp, /big\.up\.test\.\s+\d+\s+IN\s+TXT/);
    const udp = await kdig("+notcp", "+ignore", "+bufsize=512", "big.up.test", "TXT");
    assert.match(udp, /Flags: qr tc rd ra;/);
  });

  it("serves a cached answer while the upstream is down, until its TTL (10 s) runs out", async () => {
    // Caches are per replica: only dns-a reads the shared UDP socket during this test.
    const [, a, b] = replicas as [DnsReplica, DnsReplica, DnsReplica];
    b.process.child.kill("SIGSTOP");
    try {
      const first = await kdig("+notcp", "ns1.up.test", "A");
      assert.match(first, /ns1\.up\.test\.\s+10\s+IN\s+A\s+192\.0\.2\.53/);
      await knot?.stop();
      knot = undefined;
      const before = await forwardedFromCache(a);
      const cached = await kdig("+notcp", "ns1.up.test", "A");
      assert.match(
        cached,
        /ns1\.up\.test\.\s+(10|[0-9])\s+IN\s+A\s+192\.0\.2\.53/,
        "cached, TTL not above 10",
      );
      assert.ok((await forwardedFromCache(a)) > before, "dns-a counted a cache hit");
      await waitFor(
        "the cached answer expires: SERVFAIL once no upstream answers",
        async () => /status: SERVFAIL/.test(await kdig("+notcp", "ns1.up.test", "A")),
        30_000,
        500,
      );
    } finally {
      b.process.child.kill("SIGCONT");
    }
  });
});

function forwardedFromCache(replica: DnsReplica): Promise<number> {
  return scrapeMetric(replica.metricsPort, "switchyard_dns_forwarded_total", { outcome: "cache" });
}
