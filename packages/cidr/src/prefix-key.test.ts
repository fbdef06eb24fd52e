import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ipPrefixKey } from "./index.js";

describe("ipPrefixKey", () => {
  it("gives the /24 of an IPv4 client and the /56 of an IPv6 client", () => {
    assert.equal(ipPrefixKey("203.0.113.9", 24, 56), "203.0.113.0/24");
    assert.equal(ipPrefixKey("2001:db8:1:2ff::1", 24, 56), "2001:db8:1:200::/56");
    assert.equal(ipPrefixKey("2001:DB8:0001:0000::1", 24, 64), "2001:db8:1::/64");
  });

  it("keys the IPv4-mapped form of a client the same as the client", () => {
    assert.equal(ipPrefixKey("::ffff:203.0.113.9", 24, 56), "203.0.113.0/24");
  });

  it("handles whole-address and zero-length keys", () => {
    assert.equal(ipPrefixKey("203.0.113.9", 32, 128), "203.0.113.9/32");
    assert.equal(ipPrefixKey("2001:db8::9", 32, 128), "2001:db8::9/128");
    assert.equal(ipPrefixKey("203.0.113.9", 0, 0), "0.0.0.0/0");
    assert.equal(ipPrefixKey("fe80::1%eth0", 24, 64), "fe80::/64");
  });

  it("returns null for a string that is not an address", () => {
    assert.equal(ipPrefixKey("nope", 24, 56), null);
    assert.equal(ipPrefixKey("", 24, 56), null);
  });

  it("throws RangeError for bit counts out of range", () => {
    assert.throws(() => ipPrefixKey("1.2.3.4", 33, 56), RangeError);
    assert.throws(() => ipPrefixKey("1.2.3.4", 24, 129), RangeError);
    assert.throws(() => ipPrefixKey("1.2.3.4", 24.5, 56), RangeError);
    assert.throws(() => ipPrefixKey("1.2.3.4", -1, 56), RangeError);
  });
});
