import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuthLimiter } from "./auth-limiter.js";

describe("AuthLimiter", () => {
  const make = (maxFailures = 3) => {
    let now = 1_000_000;
    const limiter = new AuthLimiter({ maxFailures, windowMs: 60_000, banSeconds: 3600 }, () => now);
    return { limiter, advance: (ms: number) => (now += ms) };
  };

  it("blocks at the limit, asks for one ban per window, and forgets the client when the window ends", () => {
    const { limiter, advance } = make();
    assert.deepEqual(limiter.recordFailure("192.0.2.7"), { blocked: false, ban: false, client: "192.0.2.7" });
    limiter.recordFailure("192.0.2.7");
    assert.equal(limiter.blocked("192.0.2.7"), false);
    assert.deepEqual(limiter.recordFailure("192.0.2.7"), { blocked: true, ban: true, client: "192.0.2.7" });
    assert.equal(limiter.blocked("192.0.2.7"), true);
    assert.equal(limiter.recordFailure("192.0.2.7").ban, false, "one ban per window");
    assert.equal(limiter.blocked("192.0.2.8"), false, "other clients are not affected");
    advance(60_000);
    assert.equal(limiter.blocked("192.0.2.7"), false);
    assert.equal(limiter.tracked, 0, "forgotten");
    assert.equal(limiter.recordFailure("192.0.2.7").blocked, false, "a new window starts from zero");
    limiter.close();
  });

  it("counts IPv6 clients by /64 and IPv4-mapped addresses as IPv4", () => {
    const { limiter } = make(2);
    limiter.recordFailure("2001:db8:1:2::1");
    const second = limiter.recordFailure("2001:db8:1:2:ffff::9");
    assert.deepEqual(second, { blocked: true, ban: true, client: "2001:db8:1:2::/64" });
    assert.equal(limiter.blocked("2001:db8:1:3::1"), false);
    limiter.recordFailure("::ffff:198.51.100.4");
    assert.equal(limiter.recordFailure("198.51.100.4").client, "198.51.100.4");
    assert.equal(limiter.blocked("198.51.100.4"), true);
    limiter.close();
  });

  it("never blocks with maxFailures 0", () => {
    const { limiter } = make(0);
    for (let i = 0; i < 10; i++) assert.equal(limiter.recordFailure("192.0.2.1").blocked, false);
    assert.equal(limiter.blocked("192.0.2.1"), false);
    limiter.close();
  });
});
