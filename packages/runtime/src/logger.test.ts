import assert from "node:assert/strict";
import { test } from "node:test";
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
