/** The console server over a fake admin client: the auth flow, CSRF, headers and error mapping. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger, status } from "@switchyard/runtime";
import { AdminCallError, type AdminConnections } from "@switchyard/yardctl";
import { type ConsoleServer, startConsoleServer } from "./console-server.js";
import { CONTENT_SECURITY_POLICY } from "./http-reply.js";

describe("console server", () => {
  let dir: string;
  let server: ConsoleServer;
  let base: string;
  const calls: { method: string; request: unknown }[] = [];
  const admin = {
    async call(_service: string, _ctor: unknown, method: string, request: unknown) {
      calls.push({ method, request });
      if (method === "listWorkers") return { workers: [{ id: "w1", state: "ready" }] };
      if (method === "drainWorker") return { state: "draining" };
      if (method === "status")
        throw new AdminCallError(status.UNAVAILABLE, "cannot reach the nftables agent");
      if (method === "renew") throw new AdminCallError(status.NOT_FOUND, "no certificate named x");
      throw new Error(`unexpected ${method}`);
    },
    close() {},
  } as unknown as AdminConnections;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "console-test-"));
    await writeFile(join(dir, "admin.token"), "the-token\n");
    await writeFile(join(dir, "index.html"), "<!doctype html><title>t</title>");
    server = await startConsoleServer({
      host: "127.0.0.1",
      port: 0,
      tokenFile: join(dir, "admin.token"),
      admin,
      webDir: dir,
      logger: createLogger("console-test", { level: "silent" }),
    });
    base = `http://127.0.0.1:${server.port}/console/`;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const login = async () =>
    (await (await post("api/login", { token: "the-token" })).json()) as { session: string; csrf: string };

  test("the page comes with the strict CSP; / redirects to /console/", async () => {
    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'; script-src 'self';/);
    const root = await fetch(`http://127.0.0.1:${server.port}/`, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/console/");
    assert.equal((await fetch(`${base}nope.js`)).status, 404);
  });

  test("a wrong token is 401 wrong admin token; a view without a session is 401", async () => {
    const wrong = await post("api/login", { token: "nope" });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: "wrong admin token" });
    const anonymous = await fetch(`${base}api/views/workers`);
    assert.equal(anonymous.status, 401);
  });

  test("a session reads views; an unknown view is 404; an unreachable service is 503 with its message", async () => {
    const { session } = await login();
    const auth = { authorization: `Bearer ${session}` };
    const workers = await fetch(`${base}api/views/workers`, { headers: auth });
    assert.equal(workers.status, 200);
    assert.deepEqual(await workers.json(), { workers: [{ id: "w1", state: "ready" }] });
    assert.equal((await fetch(`${base}api/views/__proto__`, { headers: auth })).status, 404);
    const firewall = await fetch(`${base}api/views/firewall`, { headers: auth });
    assert.equal(firewall.status, 503);
    assert.deepEqual(await firewall.json(), {
      error: "cannot reach the nftables agent",
      code: "UNAVAILABLE",
    });
  });

  test("an action needs the CSRF token (403 without), a same-origin Origin, and a JSON body", async () => {
    const { session, csrf } = await login();
    const auth = { authorization: `Bearer ${session}` };
    const noCsrf = await post("api/actions/drain", { workerId: "w1" }, auth);
    assert.equal(noCsrf.status, 403);
    assert.deepEqual(await noCsrf.json(), { error: "missing or wrong CSRF token (X-CSRF-Token)" });
    assert.equal(calls.filter((c) => c.method === "drainWorker").length, 0, "nothing was called");

    const crossSite = await post(
      "api/actions/drain",
      { workerId: "w1" },
      { ...auth, "x-csrf-token": csrf, origin: "http://evil.test" },
    );
    assert.equal(crossSite.status, 403);

    const ok = await post("api/actions/drain", { workerId: "w1" }, { ...auth, "x-csrf-token": csrf });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { message: string }).message, "worker w1: draining");
    assert.deepEqual(calls.at(-1), { method: "drainWorker", request: { workerId: "w1", replace: false } });

    const form = await fetch(`${base}api/actions/drain`, {
      method: "POST",
      headers: { ...auth, "x-csrf-token": csrf, "content-type": "application/x-www-form-urlencoded" },
      body: "workerId=w1",
    });
    assert.equal(form.status, 415);
    const missing = await post("api/actions/drain", {}, { ...auth, "x-csrf-token": csrf });
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { error: "workerId: a non-empty string is required" });
    const notFound = await post("api/actions/renew", { name: "x" }, { ...auth, "x-csrf-token": csrf });
    assert.equal(notFound.status, 404);
    const bad = await fetch(`${base}api/actions/drain`, {
      method: "POST",
      headers: { ...auth, "x-csrf-token": csrf, "content-type": "application/json" },
      body: "{nope",
    });
    assert.equal(bad.status, 400);
  });

  test("logout ends the session", async () => {
    const { session, csrf } = await login();
    const headers = { authorization: `Bearer ${session}`, "x-csrf-token": csrf };
    assert.equal((await fetch(`${base}api/logout`, { method: "POST", headers })).status, 200);
    assert.equal((await fetch(`${base}api/views/workers`, { headers })).status, 401);
  });
});
