import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { curl } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { patternBytes, sha256, startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const SITE = "www.switchyard.test";
const TEN_MB = 10 * 1024 * 1024;

describe("http: TLS termination with a certs-service certificate, HTTP/1.1 and HTTP/2 proxied to a real upstream", () => {
  let stack: HttpStack;
  let upstream: TestUpstream;
  let url: (path: string) => string[];

  before(async () => {
    upstream = await startTestUpstream("a");
    stack = await startHttpStack(() => ({
      sites: [{ domains: [SITE], upstreams: [upstream.address], limits: { maxBodyBytes: 20 * 1024 * 1024 } }],
    }));
    url = (path) => [
      "--cacert",
      stack.caFile,
      "--resolve",
      `${SITE}:${stack.https}:127.0.0.1`,
      `https://${SITE}:${stack.https}${path}`,
    ];
    // The certs service issues the site's certificate (implied by tls: auto) and the worker loads it.
    await waitFor(
      "the site's certificate to serve",
      async () => (await curl(url("/"))).status === 200,
      30_000,
      250,
    );
  });
  after(async () => {
    await stack?.stop();
    await upstream?.close();
  });

  for (const version of ["--http1.1", "--http2"]) {
    it(`${version}: a 10 MB download and a 10 MB upload arrive whole (sha256 both ways)`, async () => {
      const expected = sha256(patternBytes(TEN_MB, 7));
      const down = await curl([version, ...url(`/download?bytes=${TEN_MB}&seed=7`)]);
      assert.equal(down.status, 200);
      assert.equal(down.version, version === "--http2" ? "2" : "1.1");
      assert.equal(down.body.length, TEN_MB);
      assert.equal(sha256(down.body), expected);

      const file = join(stack.dir, `upload${version}.bin`);
      const data = patternBytes(TEN_MB, 11);
      await writeFile(file, data);
      const up = await curl([
        version,
        "--data-binary",
        `@${file}`,
        "-H",
        "content-type: application/octet-stream",
        ...url("/upload"),
      ]);
      assert.equal(up.status, 200, up.stderr);
      assert.deepEqual(JSON.parse(up.body.toString()), { bytes: TEN_MB, sha256: sha256(data) });
    });
  }

  it("the upstream sees the client's address and scheme in X-Forwarded-* and Forwarded, Via, and none of the client's own claims", async () => {
    const res = await curl([
      "--http2",
      "-H",
      "x-forwarded-for: 6.6.6.6",
      "-H",
      "forwarded: for=6.6.6.6",
      "-H",
      "x-real-ip: 6.6.6.6",
      ...url("/headers"),
    ]);
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body.toString()) as Record<string, string>;
    assert.equal(seen["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen["x-forwarded-proto"], "https");
    assert.equal(seen["x-forwarded-host"], `${SITE}:${stack.https}`);
    assert.equal(seen.forwarded, `for=127.0.0.1;proto=https;host="${SITE}:${stack.https}"`);
    assert.equal(seen.via, "2 switchyard");
    assert.equal(seen.host, `${SITE}:${stack.https}`);
    assert.equal(seen["x-real-ip"], undefined);
    // The upstream's hop-by-hop fields (and those its Connection names) stop here.
    assert.equal(res.headers["x-hop"], undefined);
    assert.equal(res.headers["keep-alive"], undefined);
    assert.equal(res.headers.via, "1.1 switchyard");
  });

  it("plain HTTP gets 308 to https; the ACME challenge path on the same port still reaches certs", async () => {
    const plain = ["--resolve", `${SITE}:${stack.http}:127.0.0.1`];
    const before = upstream.seen.length;
    const redirect = await curl([...plain, `http://${SITE}:${stack.http}/a/b?c=d`]);
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, `https://${SITE}:${stack.https}/a/b?c=d`);
    const challenge = await curl([
      ...plain,
      `http://${SITE}:${stack.http}/.well-known/acme-challenge/unknown-token`,
    ]);
    // certs answers an unknown token with 404 itself: not a redirect, not the upstream.
    assert.equal(challenge.status, 404);
    assert.equal(upstream.seen.length, before, "the upstream saw neither");
  });

  it("a name no site serves is refused at the TLS handshake, while the site keeps answering", async () => {
    const other = await curl([
      "--cacert",
      stack.caFile,
      "--resolve",
      `other.switchyard.test:${stack.https}:127.0.0.1`,
      `https://other.switchyard.test:${stack.https}/`,
    ]);
    assert.equal(other.status, 0);
    assert.notEqual(other.exitCode, 0);
    assert.equal((await curl(url("/"))).status, 200);
  });
});
