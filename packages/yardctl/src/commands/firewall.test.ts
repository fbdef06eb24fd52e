import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../errors.js";
import { parseDuration } from "./firewall.js";

describe("firewall ban --for", () => {
  test("reads seconds, units and sums", () => {
    assert.equal(parseDuration("90"), 90);
    assert.equal(parseDuration("90s"), 90);
    assert.equal(parseDuration("30m"), 1800);
    assert.equal(parseDuration("1h"), 3600);
    assert.equal(parseDuration("1h30m"), 5400);
    assert.equal(parseDuration("2d"), 172_800);
  });

  test("refuses what is not a duration", () => {
    for (const bad of ["", "1x", "h", "-5m", "1.5h", "0"])
      assert.throws(() => parseDuration(bad), UsageError, bad);
  });
});
