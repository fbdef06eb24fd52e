import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import { siteGetter, siteName } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { type NginxRequest, type NginxUpstream, startNginxUpstream } from "../testing/nginx-upstream.js";
import { patternBytes, sha256 } from "../testing/test-upstream.js";

const name = siteName;
const TEN_MB = 10 * 1024 * 1024;

describe("http: nginx as a TLS upstream (another TLS and HTTP/2 stack than node's)", () => {
  let dir: string;
  let stack: HttpStack;
  let nginx: NginxUpstream;
  const big = patternBytes(TEN_MB, 21);
  const get = siteGetter(() => stack);
  /** nginx's log lines for `uri` once there are `n` more than `before`. */
  const logged = async (uri: string, before: number, n: number): Promise<NginxRequest[]> => {
    const lines = await waitFor(
      async () => {
        const all = (await nginx.requests()).filter((r) => r.uri === uri);
        return all.length >= before + n ? all : undefined;
      },
      { timeout: 10_000, what: `nginx to log ${n} more ${uri}` },
    );
    return lines.slice(before);
  };
  const count = async (uri: string) => (await nginx.requests()).filter((r) => r.uri === uri).length;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-upstream-nginx-${process.pid}-`));
    const ca = await CertificateAuthority.create({ subject: "CN=Upstream test CA" });
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, ca.certPem);
    nginx = await startNginxUpstream(await ca.issue({ names: ["upstream.test"] }), {
      "big.bin": big,
      "hello.txt": Buffer.from("hello from nginx\n"),
    });
    const tls = { caFile, serverName: "upstream.test" };
    stack = await startHttpStack(() => ({
      sites: [
        { domains: [name("h2")], upstreams: [nginx.address], upstreamTls: { ...tls, h2: true } },
        { domains: [name("h1")], upstreams: [nginx.address], upstreamTls: tls },
        // The passing twin's mistake: nginx's certificate does not name the address.
        { domains: [name("by-ip")], upstreams: [nginx.address], upstreamTls: { caFile } },
      ],
    }));
    for (const site of ["h2", "h1", "by-ip"])
      await waitFor(
        `${site}'s certificate`,
        async () => (await get(site, "/hello.txt")).exitCode === 0,
        30_000,
        250,
      );
  });
  after(async () => {
    await stack?.stop();
    await nginx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [site, protocol] of [
    ["h2", "HTTP/2.0"],
    ["h1", "HTTP/1.1"],
  ] as const) {
    it(`${site}: a 10 MB file from nginx arrives whole, nginx saw ${protocol} with SNI upstream.test`, async () => {
      const before = await count("/big.bin");
      const res = await get(site, "/big.bin");
      assert.equal(res.status, 200, res.stderr);
      assert.equal(res.body.length, TEN_MB);
      assert.equal(sha256(res.body), sha256(big));
      const [seen] = await logged("/big.bin", before, 1);
      assert.equal(seen?.protocol, protocol);
      assert.equal(seen?.servername, "upstream.test");
    });
  }

  it("h1: sequential requests ride one kept-alive TLS connection to nginx", async () => {
    assert.equal((await get("h1", "/hello.txt")).status, 200);
    const before = await count("/hello.txt");
    for (let i = 0; i < 10; i++)
      assert.equal((await get("h1", "/hello.txt")).body.toString(), "hello from nginx\n");
    const seen = await logged("/hello.txt", before, 10);
    assert.deepEqual(new Set(seen.map((s) => s.protocol)), new Set(["HTTP/1.1"]));
    assert.equal(new Set(seen.map((s) => s.connection)).size, 1, JSON.stringify(seen));
  });

  it("h2: concurrent requests are streams of one connection to nginx", async () => {
    assert.equal((await get("h2", "/hello.txt")).status, 200);
    const before = await count("/hello.txt");
    const answers = await Promise.all(Array.from({ length: 8 }, () => get("h2", "/hello.txt")));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(8).fill(200),
    );
    const seen = await logged("/hello.txt", before, 8);
    assert.ok(seen.every((s) => s.protocol === "HTTP/2.0"));
    assert.equal(new Set(seen.map((s) => s.connection)).size, 1, JSON.stringify(seen));
  });

  it("without serverName nginx's certificate (for upstream.test) does not name 127.0.0.1: 502, nothing reaches nginx", async () => {
    const before = (await nginx.requests()).length;
    const res = await get("by-ip", "/hello.txt");
    assert.equal(res.status, 502);
    assert.equal(res.body.toString(), "502 the upstream's certificate failed verification\n");
    assert.equal((await nginx.requests()).length, before);
  });
});
