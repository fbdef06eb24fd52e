import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./errors.js";
import { parseConfig } from "./load-config.js";

function problems(text: string): string[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail("config was accepted");
}

describe("dns limits", () => {
  it("defaults the TCP cap and idle timeout", () => {
    const config = parseConfig("dns: {}\n", "test.yaml");
    assert.deepEqual(config.dns?.tcp, { maxConnections: 1000, idleTimeoutMs: 10_000 });
  });

  it("names the path of a bad TCP setting", () => {
    const found = problems("dns:\n  tcp: { maxConnections: 0, idleTimeoutMs: 5 }\n");
    assert.ok(
      found.some((p) => p.includes("dns.tcp.maxConnections")),
      found.join("\n"),
    );
    assert.ok(
      found.some((p) => p.includes("dns.tcp.idleTimeoutMs")),
      found.join("\n"),
    );
  });
});
