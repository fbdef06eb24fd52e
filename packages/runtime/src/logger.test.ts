import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { captureLogs } from "./testing/log-capture.js";

test("every log line is JSON carrying the service name", () => {
  const { logger, lines } = captureLogs("dns");
  logger.info({ zone: "example.org" }, "zone loaded");
  logger.child({ conn: 7 }).warn("slow client");
  assert.equal(lines.length, 2);
  for (const line of lines) assert.equal(line.service, "dns");
  assert.equal(lines[0]?.["zone"], "example.org");
  assert.equal(lines[1]?.["conn"], 7);
});

test("the buffered logger's fast info line is the line pino writes for the same fields", () => {
  // The buffered logger writes to stdout: a child process logs both ways and the lines are compared.
  const logger = fileURLToPath(new URL("./logger.js", import.meta.url));
  const script = `
    const { createBufferedLogger } = await import(${JSON.stringify(logger)});
    const access = createBufferedLogger("http");
    const fields = { conn: 7, path: '/a "quoted" \\\\ path\\u00e9', status: 200, upstream: undefined, ms: 1.5, note: "x" };
    access.logger.info(fields, "access");
    access.info(fields, "access");
    access.info({}, "empty");
    createBufferedLogger("http", { level: "warn" }).info(fields, "never");
    access.flush();`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 3, run.stdout);
  const [viaPino, fast, empty] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(viaPino && fast && empty);
  assert.match(String(fast.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  delete viaPino.time;
  delete fast.time;
  assert.deepEqual(fast, viaPino);
  assert.equal(fast.path, '/a "quoted" \\ path\u00e9');
  assert.equal("upstream" in fast, false);
  assert.deepEqual(Object.keys(empty), ["level", "time", "service", "pid", "hostname", "msg"]);
  assert.equal(empty.msg, "empty");
});
