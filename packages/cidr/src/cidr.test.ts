import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CidrError, cidrContains, parseCidr } from "./index.js";

describe("parseCidr", () => {
  it("parses IPv4 and IPv6 networks", () => {
    const v4 = parseCidr("10.0.0.0/8");
    assert.equal(v4.family, 4);
    assert.equal(v4.prefix, 8);
    assert.equal(v4.text, "10.0.0.0/8");
    assert.equal(v4.hostBitsSet, false);
    const v6 = parseCidr("2001:DB8::/32");
    assert.equal(v6.family, 6);
    assert.equal(v6.text, "2001:db8::/32");
  });

  it("treats a bare address as /32 or /128", () => {
    assert.equal(parseCidr("192.0.2.7").text, "192.0.2.7/32");
    assert.equal(parseCidr("2001:db8::7").text, "2001:db8::7/128");
  });

  it("accepts zero-length and full-length prefixes", () => {
    assert.equal(parseCidr("0.0.0.0/0").text, "0.0.0.0/0");
    assert.equal(parseCidr("::/0").text, "::/0");
    assert.equal(parseCidr("1.2.3.4/32").text, "1.2.3.4/32");
    assert.equal(parseCidr("::1/128").text, "::1/128");
  });

  it("masks host bits and says so, as ipset and nftables store them", () => {
    const c = parseCidr("10.1.2.3/8");
    assert.equal(c.text, "10.0.0.0/8");
    assert.equal(c.hostBitsSet, true);
    assert.deepEqual(c.bytes, Uint8Array.of(10, 0, 0, 0));
    assert.equal(parseCidr("192.168.1.255/23").text, "192.168.0.0/23");
    assert.equal(parseCidr("2001:db8::1/64").text, "2001:db8::/64");
    assert.equal(parseCidr("1.2.3.4/0").text, "0.0.0.0/0");
  });

  it("turns IPv4-mapped networks of /96 or longer into IPv4", () => {
    assert.equal(parseCidr("::ffff:10.0.0.0/104").text, "10.0.0.0/8");
    assert.equal(parseCidr("::ffff:1.2.3.4").text, "1.2.3.4/32");
    assert.equal(parseCidr("::ffff:0:0/96").text, "0.0.0.0/0");
    assert.equal(parseCidr("::ffff:0:0/95").text, "::fffe:0:0/95");
  });

  const bad: Array<[string, string]> = [
    ["10.0.0.0/33", '"10.0.0.0/33" is not a CIDR: prefix length 33 is over 32'],
    ["::/129", '"::/129" is not a CIDR: prefix length 129 is over 128'],
    ["10.0.0.0/", '"10.0.0.0/" is not a CIDR: prefix length "" is not a number'],
    ["10.0.0.0/08", '"10.0.0.0/08" is not a CIDR: prefix length "08" is not a number'],
    ["10.0.0.0/-1", '"10.0.0.0/-1" is not a CIDR: prefix length "-1" is not a number'],
    ["10.0.0.0/+8", '"10.0.0.0/+8" is not a CIDR: prefix length "+8" is not a number'],
    ["10.0.0.0/8/8", '"10.0.0.0/8/8" is not a CIDR: prefix length "8/8" is not a number'],
    ["10.0.0.0/ 8", '"10.0.0.0/ 8" is not a CIDR: prefix length " 8" is not a number'],
    ["10.0.0/8", '"10.0.0/8" is not a CIDR: "10.0.0" is not an IP address'],
    ["/8", '"/8" is not a CIDR: "" is not an IP address'],
    ["", '"" is not a CIDR: it is empty'],
    ["example.com/24", '"example.com/24" is not a CIDR: "example.com" is not an IP address'],
    ["fe80::/64%eth0", '"fe80::/64%eth0" is not a CIDR: prefix length "64%eth0" is not a number'],
    ["fe80::1%eth0/64", '"fe80::1%eth0/64" is not a CIDR: a zone index (%...) is not allowed in a CIDR'],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text)} with a CidrError naming the value`, () => {
      assert.throws(
        () => parseCidr(text),
        (error: unknown) => {
          assert.ok(error instanceof CidrError);
          assert.equal(error.name, "CidrError");
          assert.equal(error.input, text);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("cidrContains", () => {
  it("tests one network, treating mapped IPv6 as IPv4", () => {
    const net = parseCidr("192.168.0.0/23");
    assert.equal(cidrContains(net, "192.168.1.200"), true);
    assert.equal(cidrContains(net, "192.168.2.1"), false);
    assert.equal(cidrContains(net, "::ffff:192.168.1.1"), true);
    assert.equal(cidrContains(net, "2001:db8::1"), false);
    assert.equal(cidrContains(net, "nonsense"), false);
    assert.equal(cidrContains(parseCidr("::/0"), "1.2.3.4"), true);
    assert.equal(cidrContains(parseCidr("2001:db8::/33"), "2001:db8:7fff::1"), true);
    assert.equal(cidrContains(parseCidr("2001:db8::/33"), "2001:db8:8000::1"), false);
  });
});
