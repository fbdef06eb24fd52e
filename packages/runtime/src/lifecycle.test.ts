import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { spawnLogged } from "./testing/logged-child.js";

const FIXTURE = fileURLToPath(new URL("./testing/lifecycle-fixture.js", import.meta.url));

/** Runs the fixture; the test can wait for log lines and for the exit code. */
const runFixture = (t: { after(fn: () => unknown): void }, ...args: string[]) =>
  spawnLogged(t, FIXTURE, args);

test("SIGTERM drains, stops and exits 0", async (t) => {
  const fixture = runFixture(t, "ok", "5000");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGTERM");
  assert.equal(await fixture.exitCode(), 0);
  const messages = fixture.lines.map((line) => line.msg);
  assert.deepEqual(messages.slice(-4), ["stopping", "fixture draining", "fixture stopped", "stopped"]);
  assert.equal((await fixture.waitFor("fixture draining"))["deadlineMs"], 5000);
  assert.ok(fixture.lines.every((line) => line.service === "fixture"));
});

test("SIGINT stops the same way", async (t) => {
  const fixture = runFixture(t, "ok");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGINT");
  assert.equal(await fixture.exitCode(), 0);
  assert.equal((await fixture.waitFor("stopping"))["signal"], "SIGINT");
});

test("SIGHUP reloads and the service keeps running", async (t) => {
  const fixture = runFixture(t, "ok");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGHUP");
  await fixture.waitFor("reloaded");
  assert.equal(fixture.child.exitCode, null);
  fixture.child.kill("SIGTERM");
  assert.equal(await fixture.exitCode(), 0);
});

test("a failing reload is logged and the service keeps running", async (t) => {
  const fixture = runFixture(t, "reload-fails");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGHUP");
  const failure = await fixture.waitFor("reload failed: keeping the running config");
  assert.match(JSON.stringify(failure["err"]), /70000 is not a port/);
  fixture.child.kill("SIGTERM");
  assert.equal(await fixture.exitCode(), 0);
});

test("a drain that outlives its deadline is cut short and the service still stops cleanly", async (t) => {
  const fixture = runFixture(t, "drain-hangs", "50");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGTERM");
  assert.equal(await fixture.exitCode(), 0);
  await fixture.waitFor("drain timed out: stopping anyway");
  await fixture.waitFor("fixture stopped");
});

test("a second stop signal exits at once with code 1", async (t) => {
  const fixture = runFixture(t, "drain-hangs", "600000");
  await fixture.waitFor("fixture started");
  fixture.child.kill("SIGTERM");
  await fixture.waitFor("fixture draining");
  fixture.child.kill("SIGTERM");
  assert.equal(await fixture.exitCode(), 1);
  await fixture.waitFor("second stop signal: exiting now");
  assert.ok(!fixture.lines.some((line) => line.msg === "fixture stopped"));
});

test("a failing start is logged and exits 1", async (t) => {
  const fixture = runFixture(t, "start-fails");
  assert.equal(await fixture.exitCode(), 1);
  const failure = await fixture.waitFor("start failed");
  assert.match(JSON.stringify(failure["err"]), /port 53 is taken/);
  assert.ok(!fixture.lines.some((line) => line.msg === "fixture started"));
});

test("an unhandled rejection is logged once and exits 1", async (t) => {
  const fixture = runFixture(t, "unhandled");
  assert.equal(await fixture.exitCode(), 1);
  const fatal = fixture.lines.filter((line) => line.level === 60);
  assert.equal(fatal.length, 1);
  assert.equal(fatal[0]?.msg, "unhandled rejection");
  assert.match(JSON.stringify(fatal[0]?.["err"]), /nobody caught me/);
});
