import assert from "node:assert/strict";
import { test } from "node:test";
import { splitHostPort } from "./host-port.js";

test("splitHostPort reads IPv4, bracketed IPv6 and port 0", () => {
  assert.deepEqual(splitHostPort("127.0.0.1:10901"), ["127.0.0.1", 10901]);
  assert.deepEqual(splitHostPort("[::1]:0"), ["::1", 0]);
});
