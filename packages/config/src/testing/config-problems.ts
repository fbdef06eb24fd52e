import assert from "node:assert/strict";
import { ConfigError } from "../errors.js";
import { parseConfig } from "../load-config.js";

/** The problems parseConfig reports for `text`; fails the test when the config is accepted. */
export function problems(text: string): string[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail("config was accepted");
}
