import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { parseRetryAfter } from "../acme/problems.js";
import { dns01Key, dns01Name } from "../challenges/challenge-records.js";
import { lifetimeWindow, pickInWindow, retryDelay } from "./policy.js";

const DAY = 86_400_000;

describe("when to renew", () => {
  it("without ARI: at two thirds of the lifetime, jittered earlier, never later", () => {
    const w = lifetimeWindow(0, 90 * DAY, { lifetimeFraction: 2 / 3, jitterFraction: 0.05 });
    assert.equal(w.end, 60 * DAY);
    assert.equal(w.start, 60 * DAY - 4.5 * DAY);
    assert.equal(
      pickInWindow(w, () => 0),
      w.start,
    );
    assert.equal(
      pickInWindow(w, () => 0.999999),
      Math.round(w.start + (w.end - w.start) * 0.999999),
    );
  });

  it("backs off exponentially with jitter, capped, and Retry-After wins when longer", () => {
    assert.equal(
      retryDelay(1, 1000, 60_000, undefined, () => 1),
      1000,
    );
    assert.equal(
      retryDelay(4, 1000, 60_000, undefined, () => 1),
      8000,
    );
    assert.equal(
      retryDelay(40, 1000, 60_000, undefined, () => 1),
      60_000,
    );
    assert.equal(
      retryDelay(4, 1000, 60_000, undefined, () => 0),
      1000,
    );
    assert.equal(
      retryDelay(1, 1000, 60_000, 300_000, () => 0.5),
      300_000,
    );
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    assert.equal(parseRetryAfter("120"), 120_000);
    assert.equal(parseRetryAfter(new Date(10_000 + 30_000).toUTCString(), 10_000), 30_000);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe("the acme bucket contract with dns", () => {
  it("keys dns01 values by sha256 of name and value, wildcard and apex sharing the name", () => {
    const value = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    const expected = createHash("sha256")
      .update(`_acme-challenge.example.com\n${value}`)
      .digest("hex")
      .slice(0, 32);
    assert.equal(dns01Key("_acme-challenge.Example.com.", value), `dns01.${expected}`);
    assert.equal(dns01Name("*.example.com"), "_acme-challenge.example.com");
    assert.equal(dns01Name("example.com"), "_acme-challenge.example.com");
  });
});
