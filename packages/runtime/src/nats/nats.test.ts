import assert from "node:assert/strict";
import { test } from "node:test";
import { NatsError } from "../errors.js";
import { captureLogs } from "../testing/log-capture.js";
import { connectNats } from "./nats.js";

// Connecting, reconnecting and KV against a real nats-server are tested in @switchyard/testkit
// (nats-server.test.ts), which owns the server harness and depends on this package.
test("a token together with user/pass is refused before connecting", async () => {
  const { logger } = captureLogs();
  await assert.rejects(
    connectNats({ servers: "nats://127.0.0.1:1", name: "t", logger, token: "a", user: "u", pass: "p" }),
    (error: unknown) => error instanceof NatsError && /either a token or user\/pass/.test(error.message),
  );
});
