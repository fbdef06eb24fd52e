import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RateLimitOptions, ResponseRateLimiter, Verdict } from "./rate-limiter.js";

const base: RateLimitOptions = {
  responsesPerSecond: 5,
  slip: 2,
  windowSeconds: 10,
  exempt: [],
  banSeconds: 60,
};

function limiter(options: Partial<RateLimitOptions> = {}) {
  let now = 1_000_000;
  const bans: Array<[string, number]> = [];
  const counts = { dropped: 0, slipped: 0 };
  const rrl = new ResponseRateLimiter(
    { ...base, ...options },
    {
      ban: (network, seconds) => bans.push([network, seconds]),
      dropped: () => counts.dropped++,
      slipped: () => counts.slipped++,
    },
    () => now,
  );
  return {
    rrl,
    bans,
    counts,
    advance: (ms: number) => {
      now += ms;
    },
    burst: (address: string, n: number, cls = "answer www.example.test 1") =>
      Array.from({ length: n }, () => rrl.check(address, cls)),
  };
}

const { SEND, SLIP, DROP } = Verdict;

describe("ResponseRateLimiter", () => {
  it("sends the rate, then drops, slipping every Nth limited response", () => {
    const t = limiter();
    assert.deepEqual(t.burst("192.0.2.1", 9), [SEND, SEND, SEND, SEND, SEND, DROP, SLIP, DROP, SLIP]);
    assert.deepEqual(t.counts, { dropped: 2, slipped: 2 });
    assert.deepEqual(limiter({ slip: 1 }).burst("192.0.2.1", 7).slice(5), [SLIP, SLIP]);
    assert.deepEqual(limiter({ slip: 0 }).burst("192.0.2.1", 7).slice(5), [DROP, DROP]);
  });

  it("refills at the rate as time passes", () => {
    const t = limiter();
    t.burst("192.0.2.1", 5);
    assert.equal(t.rrl.check("192.0.2.1", "answer www.example.test 1"), DROP);
    t.advance(400);
    assert.deepEqual(t.burst("192.0.2.1", 3), [SEND, SEND, SLIP]);
  });

  it("groups clients by /24 and /56, and answers by class", () => {
    const t = limiter();
    t.burst("192.0.2.1", 5);
    assert.equal(t.rrl.check("192.0.2.200", "answer www.example.test 1"), DROP, "same /24");
    assert.equal(t.rrl.check("192.0.3.1", "answer www.example.test 1"), SEND, "another /24");
    assert.equal(t.rrl.check("192.0.2.1", "nxdomain example.test"), SEND, "another class");
    t.burst("2001:db8:0:1::1", 5);
    assert.equal(t.rrl.check("2001:db8:0:ff::2", "answer www.example.test 1"), DROP, "same /56");
    assert.equal(t.rrl.check("2001:db8:0:100::1", "answer www.example.test 1"), SEND, "another /56");
    assert.equal(t.rrl.check("::ffff:192.0.2.9", "answer www.example.test 1"), SLIP, "IPv4-mapped is IPv4");
  });

  it("never limits exempt networks, and nothing when the rate is 0", () => {
    const t = limiter({ exempt: ["192.0.2.0/25"] });
    assert.ok(t.burst("192.0.2.7", 50).every((v) => v === SEND));
    assert.equal(t.burst("192.0.2.130", 6)[5], DROP, "outside the exempt /25");
    const off = limiter({ responsesPerSecond: 0 });
    assert.ok(off.burst("192.0.2.7", 50).every((v) => v === SEND));
  });

  it("reports a ban when a network stays limited for a whole window, once per window", () => {
    const t = limiter();
    for (let s = 0; s < 45; s++) {
      t.burst("192.0.2.1", 20);
      t.advance(500);
    }
    // Limited from 0 s to 22 s without a break: a ban at 10 s and one at 20 s, none in between.
    assert.deepEqual(t.bans, [
      ["192.0.2.0/24", 60],
      ["192.0.2.0/24", 60],
    ]);
    const v6 = limiter();
    for (let s = 0; s < 12; s++) {
      v6.burst("2001:db8:0:1::1", 20);
      v6.advance(1000);
    }
    assert.deepEqual(v6.bans, [["2001:db8::/56", 60]]);
  });

  it("starts the window again after a second without limiting, and reports nothing with banSeconds 0", () => {
    const t = limiter();
    for (let s = 0; s < 30; s++) {
      t.burst("192.0.2.1", 20);
      t.advance(s % 6 === 5 ? 3000 : 500);
    }
    assert.deepEqual(t.bans, [], "never limited for 10 s in a row");
    const off = limiter({ banSeconds: 0 });
    for (let s = 0; s < 30; s++) {
      off.burst("192.0.2.1", 20);
      off.advance(500);
    }
    assert.deepEqual(off.bans, []);
  });
});
