import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { probeHealth } from "./health-probe.js";
import { readServiceEnv } from "./service-main.js";
import { spawnLogged } from "./testing/logged-child.js";

const FIXTURE = fileURLToPath(new URL("./testing/service-main-fixture.js", import.meta.url));

const config = (socket: string) =>
  `edge:\n  allowEmptyRoutes: true\n  handoff:\n    socket: ${JSON.stringify(socket)}\n`;

/** A config file and token in a fresh directory, and the fixture running from them. */
async function runFixture(t: { after(fn: () => unknown): void }, section: string) {
  const dir = await mkdtemp(join(tmpdir(), "service-main-"));
  const configPath = join(dir, "config.yaml");
  await writeFile(configPath, config("/run/first.sock"));
  await writeFile(join(dir, "admin.token"), "fixture-token\n");
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fixture = spawnLogged(t, FIXTURE, [section], {
    env: {
      ...process.env,
      SWITCHYARD_CONFIG: configPath,
      SWITCHYARD_ADMIN_TOKEN_FILE: join(dir, "admin.token"),
      SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_LOG_LEVEL: "info",
    },
  });
  return { ...fixture, configPath };
}

test("a config without the service's section fails the start with MissingSectionError naming file and section", async (t) => {
  const fixture = await runFixture(t, "dns");
  assert.equal(await fixture.exitCode(), 1);
  const failure = await fixture.waitFor("start failed");
  const err = failure["err"] as { type: string; message: string; section: string; file: string };
  assert.equal(err.type, "MissingSectionError");
  assert.equal(err.section, "dns");
  assert.equal(err.file, fixture.configPath);
  assert.equal(err.message, `${fixture.configPath} has no dns section: the dns service has nothing to do`);
  assert.ok(!fixture.lines.some((line) => line.msg === "fixture started"));
});

test("with its section the service starts, listens on the env's addresses, reloads, and drains NOT_SERVING", async (t) => {
  const fixture = await runFixture(t, "edge");
  const started = await fixture.waitFor("fixture started");
  const grpc = Number(started["grpc"]);
  const metrics = Number(started["metrics"]);
  assert.ok(grpc > 0 && metrics > 0, `ports: ${grpc}, ${metrics}`);
  assert.equal(started["handoff"], "/run/first.sock");
  assert.equal(started["configPath"], fixture.configPath);
  assert.equal(started.service, "fixture");
  // listening() ran after both servers were up, before the started line.
  const order = fixture.lines.map((line) => line.msg);
  assert.ok(order.indexOf("fixture listening") < order.indexOf("fixture started"));
  assert.equal((await fetch(`http://127.0.0.1:${metrics}/readyz`)).status, 200);
  assert.equal((await probeHealth({ address: `127.0.0.1:${grpc}` })).status, "SERVING");

  // SIGHUP reads the file again through the same settings function.
  await writeFile(fixture.configPath, config("/run/second.sock"));
  fixture.child.kill("SIGHUP");
  assert.equal((await fixture.waitFor("fixture reloaded"))["handoff"], "/run/second.sock");
  // A file that no longer validates is refused and the service keeps running.
  await writeFile(fixture.configPath, "edge: [not, a, section]\n");
  fixture.child.kill("SIGHUP");
  await fixture.waitFor("reload failed: keeping the running config");
  assert.equal(fixture.child.exitCode, null);

  fixture.child.kill("SIGTERM");
  const draining = await fixture.waitFor("fixture draining");
  assert.equal(draining["deadlineMs"], 60_000);
  assert.equal((await probeHealth({ address: `127.0.0.1:${grpc}` })).status, "NOT_SERVING");
  fixture.child.kill("SIGUSR2");
  assert.equal(await fixture.exitCode(), 0);
  assert.deepEqual(fixture.lines.map((line) => line.msg).slice(-3), [
    "fixture draining",
    "fixture stopped",
    "stopped",
  ]);
});

test("readServiceEnv: the standard variables and their defaults", () => {
  assert.deepEqual(readServiceEnv({}, 5000), {
    configPath: "config/local.yaml",
    tokenFile: ".switchyard/admin.token",
    kvKeyFile: ".switchyard/kv.key",
    logLevel: "info",
    drainTimeoutMs: 5000,
  });
  assert.deepEqual(
    readServiceEnv({
      SWITCHYARD_CONFIG: "/etc/switchyard.yaml",
      SWITCHYARD_DRAIN_TIMEOUT_MS: "250",
      SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:1",
      SWITCHYARD_INSTANCE: "a",
      SWITCHYARD_EDGE: "10.0.0.1:10900",
    }),
    {
      configPath: "/etc/switchyard.yaml",
      tokenFile: ".switchyard/admin.token",
      kvKeyFile: ".switchyard/kv.key",
      logLevel: "info",
      drainTimeoutMs: 250,
      grpcAddress: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:1",
      instance: "a",
      edge: "10.0.0.1:10900",
    },
  );
});
