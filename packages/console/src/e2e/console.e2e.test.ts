/**
 * The console in headless Chromium against a real local stack: login, workers and drain, certificate
 * renewal, a DNS record resolved with kdig, the refusals (wrong token, no CSRF token), every view.
 * SWITCHYARD_CONSOLE_SCREENSHOTS=<dir>: a PNG of each view goes there (scripts/console-screenshots.mjs).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { waitFor } from "@switchyard/testkit";
import type { Page } from "playwright-core";
import { type ConsoleStack, startConsoleStack } from "../testing/console-stack.js";

const run = promisify(execFile);
const screenshots = process.env.SWITCHYARD_CONSOLE_SCREENSHOTS;

describe("the console in Chromium", { timeout: 180_000 }, () => {
  let stack: ConsoleStack;
  let page: Page;
  const held: Socket[] = [];

  before(async () => {
    stack = await startConsoleStack();
    page = await stack.browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("dialog", (dialog) => void dialog.accept());
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await stack?.stop();
  });

  const text = (selector: string) =>
    page
      .locator(selector)
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => null);
  const waitText = (selector: string, wanted: (t: string) => boolean, what: string, timeout = 10_000) =>
    waitFor(
      async () => {
        const t = await text(selector);
        return t !== null && wanted(t) ? t : undefined;
      },
      { what, timeout },
    );
  // Each test logs in itself: the tests may run in any order (SWITCHYARD_TEST_SHUFFLE).
  const logIn = async () => {
    await page.goto(stack.url);
    await page.fill("#token", stack.edge.token);
    await page.click("#login");
    await page.locator("#console").waitFor({ state: "visible" });
    await page.locator("#login-form").waitFor({ state: "hidden" });
  };
  const tab = async (name: string) => {
    await page.click(`#nav button[data-view="${name}"]`);
    await waitFor(async () => (await page.locator("#live").getAttribute("data-state")) !== "loading", {
      what: `${name} loaded`,
    });
  };

  test("a wrong token is refused: 401 wrong admin token, on the page and from the API", async () => {
    await page.goto(stack.url);
    await page.fill("#token", "not-the-token");
    await page.click("#login");
    await waitText("#login-error", (t) => t === "401: wrong admin token", "the login error");
    assert.equal(await page.locator("#console").isHidden(), true);
    const response = await fetch(`${stack.url}api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "not-the-token" }),
    });
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: "wrong admin token" });
  });

  test("a state change without the CSRF token is refused with 403, and nothing changes", async () => {
    const login = await fetch(`${stack.url}api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: stack.edge.token }),
    });
    assert.equal(login.status, 200);
    const { session } = (await login.json()) as { session: string };
    const response = await fetch(`${stack.url}api/actions/dns-upsert`, {
      method: "POST",
      headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "csrf.console.test", type: "A", ttl: 60, value: "192.0.2.66" }),
    });
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { error: "missing or wrong CSRF token (X-CSRF-Token)" });
    const { stdout } = await run("kdig", [
      "@127.0.0.1",
      "-p",
      String(stack.dnsPort),
      "+short",
      "+time=2",
      "csrf.console.test",
      "A",
    ]);
    assert.equal(stdout.trim(), "");
  });

  test("log in, see the workers by pool with live counts, drain one and see it draining", async () => {
    await logIn();
    await waitText('tr[data-instance="w-echo"] td.state', (t) => t === "ready", "w-echo ready");
    assert.equal(await text('section[data-pool="echo"] h3'), "pool echo (1)");
    // An open connection to pool held: its worker counts it (the live counts).
    const socket = connect(stack.heldPort, "127.0.0.1");
    held.push(socket);
    await waitText(
      'tr[data-instance="w-held"] td:nth-child(5)',
      (t) => t === "1",
      "w-held has the connection",
    );
    const id = await page.locator('tr[data-instance="w-held"]').getAttribute("data-worker");
    await page.click('tr[data-instance="w-held"] button.drain');
    await waitText("#result", (t) => t === `worker ${id}: draining`, "the drain result");
    await waitText('tr[data-instance="w-held"] td.state', (t) => t === "draining", "w-held draining");
    assert.equal(await text('tr[data-instance="w-echo"] td.state'), "ready");
    // Still draining (not ready) on the next polls: the state is the edge's, not the page's.
    const polled = await text("#updated");
    await waitText("#updated", (t) => t !== polled, "the next poll");
    assert.equal(await text('tr[data-instance="w-held"] td.state'), "draining");
  });

  test("renew a certificate and see its expiry change", async () => {
    await logIn();
    await tab("certs");
    const first = await waitText(
      'tr[data-cert="localhost"] td.expires',
      (t) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test(t),
      "issued",
      30_000,
    );
    // X.509 times have whole seconds: a renewal in the same second as the issue would keep the expiry.
    const seen = Date.now();
    await waitFor(() => Date.now() >= seen + 1000, { what: "a second past the issue" });
    await page.click('tr[data-cert="localhost"] button.renew');
    const result = await waitText(
      "#result",
      (t) => t.startsWith("certificate localhost:"),
      "the renew result",
      30_000,
    );
    assert.match(result, /^certificate localhost: issued, expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const renewed = await waitText(
      'tr[data-cert="localhost"] td.expires',
      (t) => t !== first,
      "a new expiry",
    );
    assert.ok(renewed > first, `${renewed} after ${first}`);
  });

  test("upsert a record and resolve it with kdig; a bad value shows the API's error; delete it", async () => {
    await logIn();
    await tab("dns");
    await page.fill("#dns-name", "app.console.test");
    await page.fill("#dns-type", "A");
    await page.fill("#dns-ttl", "60");
    await page.fill("#dns-value", "192.0.2.44");
    await page.click("#dns-submit");
    await waitText(
      "#result",
      (t) => t === "app.console.test. 60 A 192.0.2.44 set in zone console.test",
      "upsert result",
    );
    await waitText(
      'tr[data-record="app.console.test. A"] td:nth-child(4)',
      (t) => t === "192.0.2.44",
      "the record listed",
    );
    const dig = async () =>
      (
        await run("kdig", [
          "@127.0.0.1",
          "-p",
          String(stack.dnsPort),
          "+short",
          "+time=2",
          "app.console.test",
          "A",
        ])
      ).stdout.trim();
    await waitFor(async () => (await dig()) === "192.0.2.44", { what: "kdig answers 192.0.2.44" });

    await page.fill("#dns-value", "not-an-ip");
    await page.click("#dns-submit");
    await waitText("#result", (t) => t.startsWith("400: "), "the refusal");
    assert.match((await text("#result")) ?? "", /"not-an-ip" is not an IPv4 address/);
    assert.equal(await page.locator("#result").getAttribute("class"), "error");

    await page.click('tr[data-record="app.console.test. A"] button');
    await waitText("#result", (t) => t === "deleted 1 A records at app.console.test.", "the delete result");
    await waitFor(async () => (await dig()) === "", { what: "kdig no longer answers" });
    await waitFor(async () => (await page.locator('tr[data-record="app.console.test. A"]').count()) === 0, {
      what: "the record gone from the page",
    });
  });

  test("flush the mail queue and reload the config: each shows the API's answer", async () => {
    const swaks = await run("swaks", [
      "--server",
      `127.0.0.1:${stack.smtpPort}`,
      "--to",
      "fwd@console.test",
      "--from",
      "flush@example.org",
      "--timeout",
      "15",
    ]);
    const id = /queued as (\S+)/.exec(swaks.stdout)?.[1];
    assert.ok(id, swaks.stdout);
    await logIn();
    await tab("mail");
    const attempts = `tr[data-message="${id}"] td:nth-child(5)`;
    await waitText(attempts, (t) => t === "1", "the first attempt", 15_000);
    await page.click("#flush");
    await waitText("#result", (t) => /^flushed [1-9]\d* messages$/.test(t), "the flush result");
    await waitText(attempts, (t) => t === "2", "a second attempt, now", 15_000);

    await tab("routes");
    await page.click("#reload");
    await waitText("#result", (t) => /^config reloaded: \d+ routes$/.test(t), "the reload result");
  });

  test("every view renders; a service that is not running says so instead of failing", async () => {
    if (screenshots) await mkdir(screenshots, { recursive: true });
    // Some traffic for the chart: connections to the echo route, each answered.
    for (let i = 0; i < 5; i++) {
      const socket = connect(stack.echoPort, "127.0.0.1");
      socket.end("ping");
      await new Promise((resolve) => socket.once("close", resolve).resume());
    }
    // A message for the queue: its relay refuses, so it waits with a next try.
    const swaks = await run("swaks", [
      "--server",
      `127.0.0.1:${stack.smtpPort}`,
      "--to",
      "fwd@console.test",
      "--from",
      "a@example.org",
      "--timeout",
      "15",
    ]);
    assert.match(swaks.stdout, /queued as \S+/);
    await logIn();
    // The console samples the edge's stats every 2 s from its start: the chart has a history at once.
    await waitFor(
      async () =>
        Number(
          await page
            .locator("#chart svg")
            .getAttribute("data-samples", { timeout: 1000 })
            .catch(() => 0),
        ) >= 3,
      {
        what: "three samples in the chart",
      },
    );
    for (const name of ["workers", "routes", "certs", "mail", "dns", "firewall", "http"]) {
      await tab(name);
      if (name === "routes")
        await waitText('tr[data-route="held"] td:nth-child(1)', (t) => t === "held", "routes");
      if (name === "mail") {
        const from = 'tr[data-message]:has(td:text-is("a@example.org")) td:nth-child(2)';
        await waitText(from, (t) => t === "a@example.org", "the queued message", 15_000);
      }
      if (name === "http") {
        await waitText("tr[data-site] td:nth-child(2)", (t) => t === "www.console.test", "the site");
        await waitText("td.ok", (t) => t === "healthy", "the healthy upstream");
        await waitText("td.error", (t) => t === "unhealthy", "the upstream that is down", 15_000);
      }
      if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
    }
    await tab("firewall");
    const message = await waitText("#live .unavailable", (t) => t.length > 0, "the firewall message");
    assert.equal(
      message,
      `Firewall: unavailable — cannot reach the nftables agent at ${stack.firewallAddress} (is it running? \`npm start\`)`,
    );
    const policy = (await page.goto(stack.url))?.headers()["content-security-policy"] ?? "";
    assert.match(policy, /^default-src 'self'; script-src 'self';/);
  });
});
