import assert from "node:assert/strict";
import { get as httpsGet } from "node:https";
import { after, before, describe, it } from "node:test";
import { closedPort, scrapeMetric, waitFor } from "@switchyard/testkit";
import WebSocket from "ws";
import { siteGetter, siteName } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { scryptHash } from "../testing/password.js";
import { startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const name = siteName;

describe("http: upstream choice, health, retries, failures, auth, header rules, WebSocket and SSE", () => {
  let stack: HttpStack;
  let a: TestUpstream;
  let b: TestUpstream;
  let c: TestUpstream;
  let d: TestUpstream;
  let dead: string;
  let metrics: number;
  const get = siteGetter(() => stack);
  const from = async (site: string, path = "/") => (await get(site, path)).body.toString().trim();

  before(async () => {
    a = await startTestUpstream("a");
    b = await startTestUpstream("b");
    c = await startTestUpstream("c");
    d = await startTestUpstream("d");
    dead = `127.0.0.1:${await closedPort()}`;
    stack = await startHttpStack(() => ({
      sites: [
        {
          domains: [name("two")],
          upstreams: [a.address, b.address],
          healthCheck: { path: "/healthz", intervalMs: 200, timeoutMs: 500 },
        },
        { domains: [name("retry")], upstreams: [dead, c.address] },
        { domains: [name("down")], upstreams: [dead] },
        { domains: [name("slow")], upstreams: [c.address], limits: { upstreamTimeoutMs: 500 } },
        {
          domains: [name("auth")],
          upstreams: [c.address],
          basicAuth: [{ user: "ops", passwordHash: scryptHash("s3cret") }],
        },
        {
          domains: [name("rules")],
          upstreams: [c.address],
          paths: [{ prefix: "/api/", upstreams: [d.address], stripPrefix: true }],
          headers: {
            request: { set: { "X-Site": "rules" }, remove: ["X-Remove-Me"] },
            response: { set: { "Strict-Transport-Security": "max-age=31536000" }, remove: ["X-Powered-By"] },
          },
        },
      ],
    }));
    metrics = stack.replicas[0]?.metricsPort ?? 0;
    for (const site of ["two", "retry", "slow", "auth", "rules"])
      await waitFor(`${site}'s certificate`, async () => (await get(site, "/")).exitCode === 0, 30_000, 250);
  });
  after(async () => {
    await stack?.stop();
    await Promise.all([a, b, c, d].map((u) => u?.close()));
  });

  it("least outstanding requests: while one upstream holds a slow request, the next requests go to the other", async () => {
    const held = get("two", "/slow", ["--max-time", "30"]);
    await waitFor(
      "one upstream to hold /slow",
      () => a.seen.concat(b.seen).some((s) => s.url === "/slow"),
      10_000,
      20,
    );
    const busy = a.seen.some((s) => s.url === "/slow") ? "a" : "b";
    const free = busy === "a" ? "b" : "a";
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await from("two"));
    assert.deepEqual(answers, Array(6).fill(`hello from ${free}`));
    const upstream = busy === "a" ? a : b;
    for (const res of upstream.slow.splice(0)) res.end("done\n");
    const slow = await held;
    assert.equal(slow.status, 200);
    assert.equal(slow.body.toString(), "done\n");
  });

  it("active health: an upstream failing /healthz gets no requests until it passes again", async () => {
    a.health = 503;
    await waitFor(
      "health to show a down",
      async () =>
        (await scrapeMetric(metrics, "switchyard_http_upstream_healthy", { upstream: a.address })) === 0,
      10_000,
      50,
    );
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) answers.add(await from("two"));
    assert.deepEqual([...answers], ["hello from b"]);
    a.health = 200;
    await waitFor("a to take requests again", async () => (await from("two")) === "hello from a", 10_000, 50);
  });

  it("a refused connect is retried on the other upstream (GET), and the dead one is marked down", async () => {
    for (let i = 0; i < 4; i++) assert.equal(await from("retry"), "hello from c");
    assert.equal(
      await scrapeMetric(metrics, "switchyard_http_upstream_healthy", {
        upstream: dead,
        pool: name("retry"),
      }),
      0,
    );
  });

  it("no upstream up: 502 with a short body; too slow: 504", async () => {
    const down = await get("down", "/");
    assert.equal(down.status, 502);
    assert.match(down.body.toString(), /^502 /);
    assert.ok(down.body.length < 200);
    const slow = await get("slow", "/slow");
    assert.equal(slow.status, 504);
    assert.equal(slow.body.toString(), "504 upstream did not answer in time\n");
    const fine = await get("slow", "/");
    assert.equal(fine.status, 200, "the passing twin: the same site answers a quick request");
  });

  it("an upstream reset mid-response resets the client's response (HTTP/1.1 and HTTP/2), never a clean short body", async () => {
    const h1 = await get("slow", "/reset", ["--http1.1"]);
    assert.equal(h1.status, 200);
    assert.notEqual(h1.exitCode, 0, "curl saw the transfer cut short");
    assert.ok(h1.body.length < 1000);
    const h2 = await get("slow", "/reset", ["--http2"]);
    assert.notEqual(h2.exitCode, 0);
  });

  it("a Host of another site on a connection made for one site's name (SNI) is 421, never served", async () => {
    const before = c.seen.length;
    const fronted = await get("two", "/headers", ["-H", `Host: ${name("retry")}`]);
    assert.equal(fronted.status, 421);
    assert.equal(c.seen.length, before, "retry's upstream saw nothing");
    assert.equal((await get("retry", "/")).status, 200, "the passing twin: retry by its own name");
  });

  it("basic auth: 401 with WWW-Authenticate without or with wrong credentials; the right ones pass and stay here", async () => {
    const none = await get("auth", "/headers");
    assert.equal(none.status, 401);
    assert.equal(none.headers["www-authenticate"], 'Basic realm="switchyard", charset="UTF-8"');
    assert.equal((await get("auth", "/headers", ["-u", "ops:wrong"])).status, 401);
    assert.equal((await get("auth", "/headers", ["-u", "nobody:s3cret"])).status, 401);
    const ok = await get("auth", "/headers", ["-u", "ops:s3cret"]);
    assert.equal(ok.status, 200);
    assert.equal(
      JSON.parse(ok.body.toString()).authorization,
      undefined,
      "the upstream does not get the password",
    );
  });

  it("header rules and path routes: request fields set and removed, HSTS added, /api/ stripped to another upstream", async () => {
    const res = await get("rules", "/headers", ["-H", "X-Remove-Me: 1"]);
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body.toString());
    assert.equal(seen["x-site"], "rules");
    assert.equal(seen["x-remove-me"], undefined);
    assert.equal(res.headers["strict-transport-security"], "max-age=31536000");
    const before = d.seen.length;
    const api = await get("rules", "/api/headers");
    assert.equal(api.status, 200);
    assert.equal(d.seen.length, before + 1);
    assert.equal(d.seen.at(-1)?.url, "/headers");
  });

  it("WebSocket: an upgrade through the proxy echoes messages both ways, with the client's address forwarded", async () => {
    const ws = new WebSocket(`wss://${name("rules")}:${stack.https}/chat`, {
      ca: await import("node:fs/promises").then((fs) => fs.readFile(stack.caFile)),
      lookup: ((_h: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as never,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const echoes: string[] = [];
    for (const text of ["one", "two", "x".repeat(100_000)]) {
      const back = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
      ws.send(text);
      echoes.push(await back);
    }
    assert.deepEqual(echoes, ["one", "two", "x".repeat(100_000)]);
    assert.equal(c.seen.at(-1)?.headers["x-forwarded-for"], "127.0.0.1");
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
    await waitFor(
      "the tunnel to end",
      async () => (await scrapeMetric(metrics, "switchyard_http_upstream_in_flight")) === 0,
      10_000,
      50,
    );
  });

  it("Server-Sent Events: each event reaches the client while the upstream keeps the response open", async () => {
    const ca = await import("node:fs/promises").then((fs) => fs.readFile(stack.caFile));
    const before = c.sse.length;
    const events: string[] = [];
    const req = httpsGet({
      host: "127.0.0.1",
      port: stack.https,
      servername: name("rules"),
      headers: { host: name("rules") },
      path: "/sse",
      ca,
      agent: false,
    });
    const res = await new Promise<import("node:http").IncomingMessage>((resolve) =>
      req.once("response", resolve),
    );
    assert.equal(res.headers["content-type"], "text/event-stream");
    res.on("data", (chunk: Buffer) => events.push(chunk.toString()));
    await waitFor("the upstream to hold the stream", () => c.sse.length === before + 1, 10_000, 20);
    const stream = c.sse[before];
    for (const n of [1, 2, 3]) {
      stream?.write(`data: ${n}\n\n`);
      await waitFor(`event ${n} at the client`, () => events.join("").includes(`data: ${n}\n\n`), 10_000, 10);
    }
    res.destroy();
    req.destroy();
    await waitFor(
      "the stream to end at the upstream",
      () => stream?.destroyed === true || stream?.writableEnded === true,
      10_000,
      20,
    );
  });
});
