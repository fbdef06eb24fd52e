import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
const VERIFY_FAILED = "502 the upstream's certificate failed verification\n";

describe("http: upstreams over TLS (https://), verified against the bundled roots plus caFile, SNI by serverName", () => {
  let dir: string;
  let stack: HttpStack;
  /** Certificate for upstream.test and 127.0.0.1 from the test CA. */
  let good: TestUpstream;
  /** Certificate for other.test only, from the test CA. */
  let wrongName: TestUpstream;
  /** Certificate for upstream.test from a CA nothing trusts unless told. */
  let strangeCa: TestUpstream;
  /** Like good, for the health check (its /healthz is flipped). */
  let checked: TestUpstream;
  let expired: TestUpstream;
  let metrics: number;
  let otherCaFile: string;
  let sitesFor: (unknownCaFile?: string) => () => Record<string, unknown>;
  const get = siteGetter(() => stack);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-upstream-tls-${process.pid}-`));
    const ca = await CertificateAuthority.create({ subject: "CN=Upstream test CA" });
    const other = await CertificateAuthority.create({ subject: "CN=Some other CA" });
    const caFile = join(dir, "ca.pem");
    otherCaFile = join(dir, "other-ca.pem");
    await writeFile(caFile, ca.certPem);
    await writeFile(otherCaFile, other.certPem);
    good = await startTestUpstream("good", {
      tls: await ca.issue({ names: ["upstream.test", "127.0.0.1"] }),
    });
    wrongName = await startTestUpstream("wrong-name", { tls: await ca.issue({ names: ["other.test"] }) });
    strangeCa = await startTestUpstream("strange-ca", {
      tls: await other.issue({ names: ["upstream.test"] }),
    });
    checked = await startTestUpstream("checked", { tls: await ca.issue({ names: ["upstream.test"] }) });
    const day = 24 * 3_600_000;
    expired = await startTestUpstream("expired", {
      tls: await ca.issue({
        names: ["upstream.test"],
        notBefore: new Date(Date.now() - 3 * day),
        notAfter: new Date(Date.now() - day),
      }),
    });
    const health = { path: "/healthz", intervalMs: 200, timeoutMs: 1000 };
    /** The sites; `unknownCaFile`: a caFile for unknown-ca (a reload's change). */
    sitesFor = (unknownCaFile?: string) => () => ({
      sites: [
        {
          domains: [name("tls")],
          upstreams: [good.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
          limits: { maxBodyBytes: 20 * 1024 * 1024 },
        },
        // No serverName: the certificate must name the IP address (good's does).
        { domains: [name("by-ip")], upstreams: [good.address], upstreamTls: { caFile } },
        {
          domains: [name("wrong-name")],
          upstreams: [wrongName.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
        },
        {
          domains: [name("right-name")],
          upstreams: [wrongName.address],
          upstreamTls: { caFile, serverName: "other.test" },
        },
        {
          domains: [name("unknown-ca")],
          upstreams: [strangeCa.address],
          upstreamTls: { serverName: "upstream.test", ...(unknownCaFile ? { caFile: unknownCaFile } : {}) },
        },
        {
          domains: [name("known-ca")],
          upstreams: [strangeCa.address],
          upstreamTls: { caFile: otherCaFile, serverName: "upstream.test" },
        },
        // The right name and CA, expired: refused like any bad certificate (the twin is "tls").
        {
          domains: [name("expired")],
          upstreams: [expired.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
        },
        {
          domains: [name("checked")],
          upstreams: [checked.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
          healthCheck: health,
        },
        {
          domains: [name("checked-bad")],
          upstreams: [wrongName.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
          healthCheck: health,
        },
        {
          domains: [name("mixed")],
          upstreams: [wrongName.address],
          upstreamTls: { caFile, serverName: "upstream.test" },
          paths: [{ prefix: "/ok/", upstreams: [good.address], upstreamTls: { caFile }, stripPrefix: true }],
        },
      ],
    });
    stack = await startHttpStack(sitesFor());
    metrics = stack.replicas[0]?.metricsPort ?? 0;
    for (const site of [
      "tls",
      "by-ip",
      "wrong-name",
      "right-name",
      "unknown-ca",
      "known-ca",
      "checked",
      "mixed",
    ])
      await waitFor(`${site}'s certificate`, async () => (await get(site, "/")).exitCode === 0, 30_000, 250);
  });
  after(async () => {
    await stack?.stop();
    await Promise.all([good, wrongName, strangeCa, checked, expired].map((u) => u?.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const version of ["--http1.1", "--http2"]) {
    it(`${version}: a 10 MB download and a 10 MB upload through a TLS upstream arrive whole (sha256 both ways)`, async () => {
      const down = await get("tls", "/download?bytes=10485760&seed=3", [version]);
      assert.equal(down.status, 200, down.stderr);
      assert.equal(down.body.length, TEN_MB);
      assert.equal(sha256(down.body), sha256(patternBytes(TEN_MB, 3)));
      const data = patternBytes(TEN_MB, 5);
      const file = join(dir, `upload${version}.bin`);
      await writeFile(file, data);
      const up = await get("tls", "/upload", [version, "--data-binary", `@${file}`]);
      assert.equal(up.status, 200, up.stderr);
      assert.deepEqual(JSON.parse(up.body.toString()), { bytes: TEN_MB, sha256: sha256(data) });
      const conn = good.tlsConnections[good.seen.at(-1)?.connection ?? -1];
      assert.equal(conn?.servername, "upstream.test", "SNI is the configured serverName");
    });
  }

  it("without serverName an IP upstream gets no SNI and its certificate must name the address", async () => {
    const res = await get("by-ip", "/");
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), "hello from good\n");
    const conn = good.tlsConnections[good.seen.at(-1)?.connection ?? -1];
    assert.equal(conn?.servername, false);
  });

  it("a certificate for another name: 502 with the exact body, nothing reaches the upstream; the right serverName passes", async () => {
    const failures = async () =>
      (await scrapeMetric(metrics, "switchyard_http_upstream_tls_failures_total", {
        pool: name("wrong-name"),
        reason: "name_mismatch",
      })) ?? 0;
    const before = wrongName.seen.length;
    const counted = await failures();
    const refused = await get("wrong-name", "/headers");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), VERIFY_FAILED);
    assert.equal(wrongName.seen.length, before, "no request reached the upstream");
    assert.equal(await failures(), counted + 1, "one failed handshake, counted as a name mismatch");
    assert.equal(
      await scrapeMetric(metrics, "switchyard_http_upstream_in_flight", { pool: name("wrong-name") }),
      0,
      "the failed request left nothing in flight",
    );
    const twin = await get("right-name", "/");
    assert.equal(twin.status, 200);
    assert.equal(twin.body.toString(), "hello from wrong-name\n");
  });

  it("a certificate from an unknown CA: 502 with the exact body; trusted through caFile it passes", async () => {
    const refused = await get("unknown-ca", "/");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), VERIFY_FAILED);
    assert.ok(
      ((await scrapeMetric(metrics, "switchyard_http_upstream_tls_failures_total", {
        pool: name("unknown-ca"),
        reason: "unknown_ca",
      })) ?? 0) >= 1,
    );
    const twin = await get("known-ca", "/");
    assert.equal(twin.status, 200);
    assert.equal(twin.body.toString(), "hello from strange-ca\n");
  });

  it("an expired certificate with the right name and CA: 502 with the exact body, counted as expired; the valid one passes", async () => {
    const failures = async () =>
      (await scrapeMetric(metrics, "switchyard_http_upstream_tls_failures_total", {
        pool: name("expired"),
        reason: "expired",
      })) ?? 0;
    const before = expired.seen.length;
    const counted = await failures();
    const refused = await get("expired", "/");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), VERIFY_FAILED);
    assert.equal(expired.seen.length, before, "no request reached the upstream");
    assert.equal(await failures(), counted + 1);
    const twin = await get("tls", "/");
    assert.equal(twin.status, 200);
    assert.equal(twin.body.toString(), "hello from good\n");
  });

  it("a path rule's upstreamTls replaces the site's: /ok/ verifies by IP, the site's own route still refuses", async () => {
    const ok = await get("mixed", "/ok/");
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), "hello from good\n");
    const refused = await get("mixed", "/");
    assert.equal(refused.status, 502);
    assert.equal(refused.body.toString(), VERIFY_FAILED);
  });

  it("the worker logs why: certificate name mismatch, unknown CA", async () => {
    const lines = () => stack.replicas[0]?.process.lines ?? [];
    await waitFor(
      "both reasons in the log",
      () => {
        const reasons = lines()
          .filter((l) => (l as { msg?: string }).msg === "upstream certificate refused")
          .map((l) => String((l as { reason?: string }).reason));
        return (
          reasons.some((r) => r.startsWith("certificate name mismatch: ")) &&
          reasons.some((r) => r.startsWith("certificate from an unknown CA: "))
        );
      },
      10_000,
      50,
    );
  });

  it("active health checks over TLS: a failing /healthz marks the upstream down and a passing one up; a refused certificate keeps it down", async () => {
    const healthy = (upstream: string, pool: string) =>
      scrapeMetric(metrics, "switchyard_http_upstream_healthy", { upstream, pool });
    await waitFor(
      "checked to be up",
      async () => (await healthy(checked.address, name("checked"))) === 1,
      10_000,
      50,
    );
    checked.health = 503;
    await waitFor(
      "checked to be down",
      async () => (await healthy(checked.address, name("checked"))) === 0,
      10_000,
      50,
    );
    const down = await get("checked", "/");
    assert.equal(down.status, 502);
    assert.equal(down.body.toString(), "502 no healthy upstream\n");
    checked.health = 200;
    await waitFor(
      "checked to be up again",
      async () => (await healthy(checked.address, name("checked"))) === 1,
      10_000,
      50,
    );
    assert.equal((await get("checked", "/")).status, 200);
    await waitFor(
      "a name mismatch to fail the check",
      async () => (await healthy(wrongName.address, name("checked-bad"))) === 0,
      10_000,
      50,
    );
  });

  it("SIGHUP: a caFile that cannot be read fails the reload, named in the log, and the running config serves on; a readable one trusts its CA", async () => {
    const replica = stack.replicas[0];
    assert.ok(replica);
    const reload = async (unknownCaFile?: string) => {
      const http = sitesFor(unknownCaFile)();
      await stack.edge.writeConfig({
        nats: { servers: [stack.nats.url], credentialsFile: stack.nats.credentialsFile },
        certs: { httpPort: stack.http, directory: "internal", renewal: { checkIntervalMs: 500 } },
        http: { ports: { https: stack.https, http: stack.http }, ...http },
      });
      replica.process.child.kill("SIGHUP");
    };
    const missing = join(dir, `missing-${Date.now()}.pem`);
    try {
      await reload(missing);
      const failed = (await replica.process.waitForLine(
        (l) =>
          l.msg === "reload failed: keeping the running config" &&
          String((l as { err?: { message?: string } }).err?.message).includes(missing),
        10_000,
      )) as { err: { message: string } };
      assert.match(failed.err.message, /http\.sites\[4\]\.upstreamTls\.caFile: cannot read .*: ENOENT/);
      assert.equal((await get("tls", "/")).status, 200, "the running config serves on");
      assert.equal((await get("unknown-ca", "/")).body.toString(), VERIFY_FAILED);
      await reload(otherCaFile);
      await waitFor(
        "the reloaded caFile to be trusted",
        async () => (await get("unknown-ca", "/")).status === 200,
        10_000,
        100,
      );
    } finally {
      await reload();
      await waitFor(
        "the first config again",
        async () => (await get("unknown-ca", "/")).status === 502,
        10_000,
        100,
      );
    }
  });

  it("keep-alive: many requests ride one TLS connection to the upstream; a second connection resumes the TLS session", async () => {
    const first = good.seen.length;
    for (let i = 0; i < 20; i++) assert.equal((await get("tls", "/")).status, 200);
    const used = new Set(good.seen.slice(first).map((s) => s.connection));
    assert.equal(used.size, 1, `20 requests on ${[...used].join(",")}`);
    // A request held open makes the next one take a second connection, which resumes the session.
    const opened = good.tlsConnections.length;
    const held = get("tls", "/slow", ["--max-time", "30"]);
    await waitFor("the upstream to hold /slow", () => good.slow.length === 1, 10_000, 20);
    assert.equal((await get("tls", "/")).status, 200);
    const fresh = good.tlsConnections.slice(opened);
    assert.ok(fresh.length >= 1, "a second connection was opened");
    assert.ok(
      fresh.every((c) => c.resumed),
      JSON.stringify(fresh),
    );
    for (const res of good.slow.splice(0)) res.end("done\n");
    assert.equal((await held).status, 200);
  });

  it("WebSocket: an upgrade through the proxy to a TLS upstream echoes both ways", async () => {
    const ws = new WebSocket(`wss://${name("tls")}:${stack.https}/chat`, {
      ca: await readFile(stack.caFile),
      lookup: ((_h: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as never,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const echoes: string[] = [];
    for (const text of ["one", "y".repeat(100_000)]) {
      const back = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
      ws.send(text);
      echoes.push(await back);
    }
    assert.deepEqual(echoes, ["one", "y".repeat(100_000)]);
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  it("a WebSocket upgrade to an upstream whose certificate is refused: 502, nothing tunnelled", async () => {
    const before = wrongName.seen.length;
    const failures = async () =>
      (await scrapeMetric(metrics, "switchyard_http_upstream_tls_failures_total", {
        pool: name("wrong-name"),
        reason: "name_mismatch",
      })) ?? 0;
    const counted = await failures();
    const ws = new WebSocket(`wss://${name("wrong-name")}:${stack.https}/chat`, {
      ca: await readFile(stack.caFile),
      lookup: ((_h: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as never,
    });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => reject(new Error("the tunnel opened")));
      ws.once("error", reject);
    });
    ws.terminate();
    assert.equal(status, 502);
    assert.equal(wrongName.seen.length, before);
    assert.equal(await failures(), counted + 1, "counted as a name mismatch");
  });
});
