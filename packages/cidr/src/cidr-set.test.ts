import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CidrError, CidrSet, parseCidr } from "./index.js";

describe("CidrSet", () => {
  it("matches IPv4 clients against IPv4 networks", () => {
    const set = new CidrSet(["10.0.0.0/8", "192.168.1.0/24", "203.0.113.7"]);
    assert.equal(set.has("10.255.255.255"), true);
    assert.equal(set.has("11.0.0.0"), false);
    assert.equal(set.has("192.168.1.77"), true);
    assert.equal(set.has("192.168.2.1"), false);
    assert.equal(set.has("203.0.113.7"), true);
    assert.equal(set.has("203.0.113.8"), false);
  });

  it("matches the IPv4-mapped form of a client against IPv4 networks and the other way round", () => {
    const set = new CidrSet(["10.0.0.0/8", "::ffff:172.16.0.0/108"]);
    assert.equal(set.has("::ffff:10.1.2.3"), true);
    assert.equal(set.has("::FFFF:0a01:0203"), true);
    assert.equal(set.has("::ffff:11.1.2.3"), false);
    assert.equal(set.has("172.16.5.5"), true);
    assert.equal(set.has("172.32.0.1"), false);
  });

  it("matches IPv6 clients against IPv6 networks, ignoring a zone", () => {
    const set = new CidrSet(["2001:db8::/32", "fe80::/10", "2001:db9::1"]);
    assert.equal(set.has("2001:db8:ffff::1"), true);
    assert.equal(set.has("2001:db9::1"), true);
    assert.equal(set.has("2001:db9::2"), false);
    assert.equal(set.has("fe80::1%eth0"), true);
    assert.equal(set.has("10.0.0.1"), false);
  });

  it("matches everything of a family with a zero-length prefix", () => {
    const v4 = new CidrSet(["0.0.0.0/0"]);
    assert.equal(v4.has("1.2.3.4"), true);
    assert.equal(v4.has("::ffff:1.2.3.4"), true);
    assert.equal(v4.has("2001:db8::1"), false);
    const v6 = new CidrSet(["::/0"]);
    assert.equal(v6.has("2001:db8::1"), true);
    assert.equal(v6.has("1.2.3.4"), true, "::/0 covers ::ffff:1.2.3.4");
    const notMapped = new CidrSet(["2000::/3"]);
    assert.equal(notMapped.has("1.2.3.4"), false);
  });

  it("is empty and matches nothing when built from nothing", () => {
    const set = new CidrSet([]);
    assert.equal(set.size, 0);
    assert.equal(set.has("1.2.3.4"), false);
    assert.equal(set.has("::"), false);
  });

  it("answers false, never throws, for input that is not an address", () => {
    const set = new CidrSet(["0.0.0.0/0", "::/0"]);
    for (const bad of ["", "1.2.3", "::g", "1.2.3.4 ", "x".repeat(10_000), undefined, null, 7]) {
      assert.equal(set.has(bad as unknown as string), false, String(bad));
    }
  });

  it("counts distinct normalised networks in size", () => {
    const set = new CidrSet([
      "10.0.0.0/8",
      "10.1.2.3/8",
      "::ffff:10.0.0.0/104",
      parseCidr("10.0.0.0/8"),
      "::1",
    ]);
    assert.equal(set.size, 2);
  });

  it("keeps a broad network when a narrower one inside it comes later, and the other way round", () => {
    assert.equal(new CidrSet(["10.0.0.0/8", "10.1.0.0/16"]).has("10.2.0.0"), true);
    assert.equal(new CidrSet(["10.1.0.0/16", "10.0.0.0/8"]).has("10.2.0.0"), true);
  });

  it("throws CidrError naming a bad entry", () => {
    assert.throws(() => new CidrSet(["10.0.0.0/8", "10.0.0.0/33"]), CidrError);
  });

  it("agrees with a linear scan over thousands of random networks", () => {
    // mulberry32: a small seeded generator, so failures reproduce.
    let seed = 1;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) & 0x7fffffff;
    };
    const v4Nets: Array<{ base: number; prefix: number }> = [];
    const entries: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const prefix = 8 + (random() % 25);
      const addr = ((random() << 1) ^ random()) >>> 0;
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      v4Nets.push({ base: (addr & mask) >>> 0, prefix });
      entries.push(`${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${prefix}`);
    }
    for (let i = 0; i < 2000; i++) {
      entries.push(`2001:db8:${(random() & 0xffff).toString(16)}::/48`);
    }
    const set = new CidrSet(entries);
    assert.ok(set.size > 6000, `size ${set.size}`);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) {
      // Probe near entries half the time so both outcomes are exercised.
      const near = v4Nets[random() % v4Nets.length]!;
      const addr = (i % 2 === 0 ? near.base + (random() % 512) : (random() << 1) ^ random()) >>> 0;
      const expected = v4Nets.some(({ base, prefix }) => {
        const mask = (0xffffffff << (32 - prefix)) >>> 0;
        return (addr & mask) >>> 0 === base;
      });
      const text = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
      assert.equal(set.has(text), expected, text);
      assert.equal(set.has(`::ffff:${text}`), expected, text);
      if (expected) hits++;
    }
    assert.ok(hits > 1000 && hits < 19_000, `hits ${hits}`);
    assert.equal(set.has("2001:db8:ffff:1::1"), entries.includes("2001:db8:ffff::/48"));
  });
});
