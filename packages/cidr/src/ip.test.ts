import assert from "node:assert/strict";
import { isIP } from "node:net";
import { describe, it } from "node:test";
import { formatIp, normalizeIp, parseIp } from "./index.js";

describe("parseIp", () => {
  it("parses IPv4 dotted quads into 4 bytes", () => {
    assert.deepEqual(parseIp("192.0.2.1"), { family: 4, bytes: Uint8Array.of(192, 0, 2, 1) });
    assert.deepEqual(parseIp("0.0.0.0")?.bytes, Uint8Array.of(0, 0, 0, 0));
    assert.deepEqual(parseIp("255.255.255.255")?.bytes, Uint8Array.of(255, 255, 255, 255));
  });

  it("parses IPv6 in full, compressed and mixed notation", () => {
    const full = parseIp("2001:0db8:0000:0000:0000:ff00:0042:8329");
    assert.equal(full?.family, 6);
    assert.deepEqual(parseIp("2001:db8::ff00:42:8329"), full);
    assert.deepEqual(parseIp("::")?.bytes, new Uint8Array(16));
    assert.deepEqual(parseIp("::1")?.bytes, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(
      parseIp("::ffff:192.0.2.1")?.bytes,
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1),
    );
    assert.deepEqual(parseIp("1::")?.bytes, Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assert.equal(parseIp("1:2:3:4:5:6:7::")?.family, 6);
    assert.equal(parseIp("::2:3:4:5:6:7:8")?.family, 6);
    assert.equal(parseIp("1:2:3:4:5:6:1.2.3.4")?.family, 6);
    assert.equal(parseIp("ABCD:EF01::")?.family, 6);
  });

  it("drops a valid zone index from IPv6", () => {
    assert.deepEqual(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
    assert.deepEqual(parseIp("fe80::1%2"), parseIp("fe80::1"));
  });

  const invalid = [
    "",
    " ",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.256",
    "01.2.3.4",
    "1.2.3.04",
    "1..2.3",
    ".1.2.3",
    "1.2.3.4.",
    "1.2.3.-4",
    "+1.2.3.4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4%eth0",
    "0x1.2.3.4",
    "1.2.3.4/32",
    ":",
    ":::",
    "1:::2",
    "::1::",
    "1::2::3",
    ":1::",
    "1::2:",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "::ffff:1.2.3",
    "::ffff:1.2.3.256",
    "::1.2.3.4:1",
    "1:2:3:4:5:6:7:1.2.3.4",
    "fe80::1%",
    "fe80::1%a b",
    "fe80::1%a%b",
    "[::1]",
    "::1/128",
    "é::1",
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)} with null`, () => {
      assert.equal(parseIp(text), null);
    });
  }

  it("never throws on non-string or hostile input", () => {
    assert.equal(parseIp(undefined as unknown as string), null);
    assert.equal(parseIp(42 as unknown as string), null);
    assert.equal(parseIp("1".repeat(100_000)), null);
    assert.equal(parseIp(":".repeat(60)), null);
  });

  it("agrees with node:net on which strings are addresses", () => {
    const samples = [
      ...invalid,
      "1.2.3.4",
      "::",
      "::ffff:1.2.3.4",
      "2001:db8::1",
      "1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7::",
      "::ffff:1.2.3.04",
      "fe80::1%eth0",
    ];
    for (const text of samples) {
      assert.equal(parseIp(text) !== null, isIP(text) !== 0, text);
    }
  });
});

describe("normalizeIp", () => {
  it("maps IPv4-mapped IPv6 to dotted quad", () => {
    assert.equal(normalizeIp("::ffff:1.2.3.4"), "1.2.3.4");
    assert.equal(normalizeIp("::FFFF:0102:0304"), "1.2.3.4");
    assert.equal(normalizeIp("0:0:0:0:0:ffff:10.0.0.1"), "10.0.0.1");
  });

  it("writes IPv6 in RFC 5952 form: lowercase, no leading zeros, longest zero run compressed", () => {
    assert.equal(normalizeIp("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    assert.equal(normalizeIp("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"); // first of equal runs
    assert.equal(normalizeIp("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); // one zero group stays
    assert.equal(normalizeIp("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1"); // longest run wins
    assert.equal(normalizeIp("0:0:0:0:0:0:0:0"), "::");
    assert.equal(normalizeIp("1:0:0:0:0:0:0:0"), "1::");
    assert.equal(normalizeIp("::0.0.0.1"), "::1");
    assert.equal(normalizeIp("fe80::1%eth0"), "fe80::1");
  });

  it("keeps IPv4 as is and returns null for garbage", () => {
    assert.equal(normalizeIp("10.0.0.1"), "10.0.0.1");
    assert.equal(normalizeIp("10.0.0.01"), null);
    assert.equal(normalizeIp("example.com"), null);
  });

  it("matches WHATWG URL serialisation for random IPv6 addresses", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      const bytes = new Uint8Array(16);
      for (let g = 0; g < 8; g++) {
        if (random() % 3 === 0) continue; // leave zero runs of random length
        bytes[g * 2] = random() & 0xff;
        bytes[g * 2 + 1] = random() & 0xff;
      }
      if (bytes.subarray(0, 10).every((b) => b === 0)) bytes[0] = 0x20; // avoid mapped/compat forms
      const text = formatIp(bytes);
      const expected = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      assert.equal(text, expected);
      assert.deepEqual(parseIp(text)?.bytes, bytes);
    }
  });
});
