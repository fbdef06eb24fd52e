import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { scrapeMetric, waitFor } from "@switchyard/testkit";
import { CertificateAuthority } from "@switchyard/x509";
import WebSocket from "ws";
import { siteGetter, siteName } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { patternBytes, sha256, startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const name = siteName;
const TEN_MB = 10 * 1024 * 1024;

describe("http: HTTP/2 to TLS upstreams (h2: true), client certificates (mutual TLS), TLS to a plain upstream", () => {
  let dir: string;
  let stack: HttpStack;
  /** node:http2 secure server offering h2 and http/1.1. */
  let h2: TestUpstream;
  /** HTTPS that requires a client certificate from the test CA. */
  let mutual: TestUpstream;
  /** Plain HTTP, configured as https:// by mistake. */
  let plain: TestUpstream;
  /** Accepts TCP and never answers the ClientHello. */
  let mute: Server;
  const muteSockets = new Set<Socket>();
  const get = siteGetter(() => stack);
  /** Requests in flight to a site's pool, as the worker's metrics say. */
  const inFlight = (site: string) =>
    scrapeMetric(stack.replicas[0]?.metricsPort ?? 0, "switchyard_http_upstream_in_flight", {
      pool: name(site),
    });
  const lookup = ((_h: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) =>
    o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as never;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-upstream-h2-${process.pid}-`));
    const ca = await CertificateAuthority.create({ subject: "CN=Upstream test CA" });
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, ca.certPem);
    const client = await ca.issue({ names: ["proxy.test"], clientAuth: true });
    const clientCertFile = join(dir, "client.pem");
    const clientKeyFile = join(dir, "client.key");
    await writeFile(clientCertFile, client.certPem);
    await writeFile(clientKeyFile, client.keyPem);
    h2 = await startTestUpstream("h2", {
      tls: { ...(await ca.issue({ names: ["upstream.test"] })), h2: true },
    });
    mutual = await startTestUpstream("mutual", {
      tls: { ...(await ca.issue({ names: ["upstream.test"] })), clientCa: ca.certPem },
    });
    plain = await startTestUpstream("plain");
    mute = createServer((socket) => {
      muteSockets.add(socket);
      socket.resume(); // read (and drop) the ClientHello: a socket not read never sees the FIN
      socket.on("close", () => muteSockets.delete(socket));
      socket.on("error", () => socket.destroy());
    });
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    const tls = { caFile, serverName: "upstream.test" };
    stack = await startHttpStack(() => ({
      sites: [
        {
          domains: [name("h2")],
          upstreams: [h2.address],
          upstreamTls: { ...tls, h2: true },
          limits: { maxBodyBytes: 20 * 1024 * 1024 },
        },
        { domains: [name("h1")], upstreams: [h2.address], upstreamTls: tls },
        {
          domains: [name("mtls")],
          upstreams: [mutual.address],
          upstreamTls: { ...tls, clientCertFile, clientKeyFile },
        },
        { domains: [name("no-client-cert")], upstreams: [mutual.address], upstreamTls: tls },
        { domains: [name("plain-as-tls")], upstreams: [`https://${plain.address}`] },
        { domains: [name("plain")], upstreams: [plain.address] },
        { domains: [name("mute")], upstreams: [`https://127.0.0.1:${(mute.address() as AddressInfo).port}`] },
      ],
    }));
    for (const site of ["h2", "h1", "mtls", "no-client-cert", "plain-as-tls", "plain"])
      await waitFor(`${site}'s certificate`, async () => (await get(site, "/")).exitCode === 0, 30_000, 250);
  });
  after(async () => {
    await stack?.stop();
    await Promise.all([h2, mutual, plain].map((u) => u?.close()));
    for (const s of muteSockets) s.destroy();
    await new Promise((resolve) => mute?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("h2: true speaks HTTP/2 to the upstream: 10 MB both ways hash-checked; without it the same upstream gets HTTP/1.1", async () => {
    const down = await get("h2", `/download?bytes=${TEN_MB}&seed=9`);
    assert.equal(down.status, 200, down.stderr);
    assert.equal(sha256(down.body), sha256(patternBytes(TEN_MB, 9)));
    assert.equal(h2.seen.at(-1)?.httpVersion, "2.0");
    const data = patternBytes(TEN_MB, 13);
    const file = join(dir, "upload.bin");
    await writeFile(file, data);
    const up = await get("h2", "/upload", ["--data-binary", `@${file}`]);
    assert.equal(up.status, 200, up.stderr);
    assert.deepEqual(JSON.parse(up.body.toString()), { bytes: TEN_MB, sha256: sha256(data) });
    assert.equal(h2.seen.at(-1)?.httpVersion, "2.0");
    assert.equal((await get("h1", "/")).status, 200);
    assert.equal(h2.seen.at(-1)?.httpVersion, "1.1", "the twin without h2");
  });

  it("h2: concurrent requests share one TLS connection to the upstream (streams, not connections)", async () => {
    // One request first: while a connection is still being made, undici opens one per waiting request.
    assert.equal((await get("h2", "/")).status, 200);
    const first = h2.seen.length;
    const answers = await Promise.all(Array.from({ length: 8 }, () => get("h2", "/")));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(8).fill(200),
    );
    const seen = h2.seen.slice(first);
    assert.equal(seen.length, 8);
    assert.ok(seen.every((s) => s.httpVersion === "2.0"));
    assert.equal(
      new Set(seen.map((s) => s.connection)).size,
      1,
      JSON.stringify(seen.map((s) => s.connection)),
    );
  });

  it("h2: a WebSocket upgrade still reaches the upstream over HTTP/1.1 and echoes", async () => {
    const ws = new WebSocket(`wss://${name("h2")}:${stack.https}/chat`, {
      ca: await readFile(stack.caFile),
      lookup,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const back = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
    ws.send("over h1");
    assert.equal(await back, "over h1");
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  it("mutual TLS: with clientCertFile the upstream lets the proxy in; without, 502 and nothing reaches it", async () => {
    const ok = await get("mtls", "/");
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), "hello from mutual\n");
    const before = mutual.seen.length;
    const refused = await get("no-client-cert", "/");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), "502 the TLS handshake with the upstream failed\n");
    assert.equal(mutual.seen.length, before);
    assert.equal(await inFlight("no-client-cert"), 0, "nothing left in flight");
  });

  it("https:// to a plain-HTTP upstream: 502 (the handshake fails), never sent in clear; as host:port it answers", async () => {
    const before = plain.seen.length;
    const refused = await get("plain-as-tls", "/");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), "502 the TLS handshake with the upstream failed\n");
    assert.equal(plain.seen.length, before, "the upstream parsed no request");
    assert.equal(await inFlight("plain-as-tls"), 0, "nothing left in flight");
    const twin = await get("plain", "/");
    assert.equal(twin.status, 200);
    assert.equal(twin.body.toString(), "hello from plain\n");
  });

  it("a TLS upstream that never answers the handshake: 502 at the connect deadline (5 s), marked down (passive health), the connection closed", async () => {
    const res = await get("mute", "/");
    assert.equal(res.status, 502);
    assert.equal(res.body.toString(), "502 every upstream refused the connection\n");
    const metrics = stack.replicas[0]?.metricsPort ?? 0;
    assert.equal(
      await scrapeMetric(metrics, "switchyard_http_upstream_healthy", { pool: name("mute") }),
      0,
      "passive health: the stalled TLS upstream is marked down",
    );
    await waitFor("the stalled connection to close", () => muteSockets.size === 0, 10_000, 50);
    assert.equal(await inFlight("mute"), 0, "nothing left in flight");
  });
});
