import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROXY_V1_MAX_BYTES, parseProxyHeader } from "./proxy-protocol.js";

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ascii = (text: string) => Buffer.from(text, "latin1");
const reasonOf = (buf: Uint8Array) => {
  const result = parseProxyHeader(buf);
  assert.equal(result.kind, "invalid", `expected invalid, got ${JSON.stringify(result)}`);
  return result.kind === "invalid" ? result.reason : "";
};

/** A v2 header from its parts: ver_cmd, fam, declared length, then body bytes. */
function v2(verCmd: number, fam: number, length: number, body: number[] = []): Buffer {
  return Buffer.from([...SIG, verCmd, fam, length >> 8, length & 0xff, ...body]);
}

/** Every strict prefix must be "incomplete", so a caller reading byte by byte waits. */
function assertIncompleteUntilEnd(buf: Buffer) {
  for (let n = 0; n < buf.length; n++) {
    assert.deepEqual(parseProxyHeader(buf.subarray(0, n)), { kind: "incomplete" }, `prefix of ${n} bytes`);
  }
}

describe("parseProxyHeader: absent", () => {
  it("says absent from the first byte when it can start neither signature", () => {
    assert.deepEqual(parseProxyHeader(ascii("G")), { kind: "absent" });
    assert.deepEqual(parseProxyHeader(Buffer.from([0x16])), { kind: "absent" });
    assert.deepEqual(parseProxyHeader(Buffer.from([0x00])), { kind: "absent" });
  });

  it("says absent as soon as a byte departs from the signature", () => {
    assert.deepEqual(parseProxyHeader(ascii("PO")), { kind: "absent" }); // POST
    assert.deepEqual(parseProxyHeader(ascii("proxy ")), { kind: "absent" });
    assert.deepEqual(parseProxyHeader(Buffer.from(SIG.slice(0, 11).concat([0x0b]))), { kind: "absent" });
    assert.deepEqual(parseProxyHeader(ascii("\r\n\r\nX")), { kind: "absent" });
  });

  it("waits while the bytes could still be a header", () => {
    assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { kind: "incomplete" });
    assert.deepEqual(parseProxyHeader(ascii("PROX")), { kind: "incomplete" });
    assert.deepEqual(parseProxyHeader(Buffer.from(SIG.slice(0, 11))), { kind: "incomplete" });
  });
});

describe("parseProxyHeader: v1", () => {
  it("parses TCP4 and leaves the payload after the header", () => {
    const header = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    const result = parseProxyHeader(ascii(`${header}GET / HTTP/1.1\r\n`));
    assert.deepEqual(result, {
      kind: "done",
      version: 1,
      command: "proxy",
      family: "inet",
      transport: "stream",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
      consumed: header.length,
    });
  });

  it("parses TCP6 and writes addresses canonically, IPv4-mapped as IPv4", () => {
    const result = parseProxyHeader(ascii("PROXY TCP6 2001:DB8:0::1 ::ffff:10.0.0.1 0 65535\r\n"));
    assert.equal(result.kind, "done");
    if (result.kind !== "done") return;
    assert.equal(result.family, "inet6");
    assert.deepEqual(result.source, { address: "2001:db8::1", port: 0 });
    assert.deepEqual(result.destination, { address: "10.0.0.1", port: 65535 });
  });

  it("accepts UNKNOWN in short and long form without addresses", () => {
    const short = parseProxyHeader(ascii("PROXY UNKNOWN\r\n"));
    assert.deepEqual(short, {
      kind: "done",
      version: 1,
      command: "proxy",
      family: "unspec",
      transport: "unspec",
      consumed: 15,
    });
    const long = parseProxyHeader(ascii("PROXY UNKNOWN ffff:: ffff:: 1 2\r\nrest"));
    assert.equal(long.kind === "done" && long.consumed, 33);
    assert.equal(long.kind === "done" && long.source, undefined);
  });

  it("accepts the 107-byte worst case and rejects 108 bytes", () => {
    const v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const max = `PROXY UNKNOWN ${v6} ${v6} 65535 65535\r\n`;
    assert.equal(max.length, PROXY_V1_MAX_BYTES);
    assert.equal(parseProxyHeader(ascii(max)).kind, "done");
    const tcp6 = `PROXY TCP6 ${v6} ${v6} 65535 65535\r\n`;
    assert.equal(parseProxyHeader(ascii(tcp6)).kind, "done");
    assert.match(reasonOf(ascii(`PROXY UNKNOWN ${v6} ${v6} 65535 655350\r\n`)), /107/);
  });

  it("waits for the CRLF until 107 bytes, then gives up", () => {
    const line = ascii(`PROXY UNKNOWN ${"x".repeat(92)}`);
    assert.equal(line.length, 106);
    assert.deepEqual(parseProxyHeader(line), { kind: "incomplete" });
    assert.match(reasonOf(Buffer.concat([line, ascii("x")])), /no CRLF within 107 bytes/);
    // CR as the 107th byte leaves no room for LF.
    assert.match(reasonOf(Buffer.concat([line, ascii("\r")])), /no CRLF within 107 bytes/);
  });

  it("feeds byte by byte: incomplete until the LF, then done", () => {
    assertIncompleteUntilEnd(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    assertIncompleteUntilEnd(ascii("PROXY UNKNOWN\r\n"));
  });

  it("rejects line ends other than CRLF", () => {
    assert.match(reasonOf(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")), /LF without CR/);
    assert.match(reasonOf(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX")), /CR without LF/);
    assert.match(reasonOf(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n")), /CR without LF/);
    assert.deepEqual(parseProxyHeader(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")), { kind: "incomplete" });
  });

  it("rejects a bad protocol word as soon as it shows", () => {
    assert.match(reasonOf(ascii("PROXY TCP5")), /TCP4, TCP6 or UNKNOWN/);
    assert.match(reasonOf(ascii("PROXY tcp4 ")), /TCP4, TCP6 or UNKNOWN/);
    assert.match(reasonOf(ascii("PROXY  TCP4 ")), /TCP4, TCP6 or UNKNOWN/);
    assert.match(reasonOf(ascii("PROXY TCP4\r\n")), /TCP4, TCP6 or UNKNOWN/);
    assert.match(reasonOf(ascii("PROXY UNKNOWNX\r\n")), /TCP4, TCP6 or UNKNOWN/);
    assert.match(reasonOf(ascii("PROXYTCP4")), /not followed by a space/);
  });

  const badLines: Array<[string, RegExp]> = [
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", /exactly four fields/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", /exactly four fields/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", /exactly four fields/],
    ["PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", /exactly four fields/],
    ["PROXY TCP4 \r\n", /exactly four fields/],
    ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", /source address is not IPv4/],
    ["PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", /source address is not IPv4/],
    ["PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", /source address is not IPv4/],
    ["PROXY TCP4 ::1 5.6.7.8 1 2\r\n", /source address is not IPv4/],
    ["PROXY TCP4 1.2.3.4 example.com 1 2\r\n", /destination address is not IPv4/],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /source address is not IPv6/],
    ["PROXY TCP6 ::1 ::1%eth0 1 2\r\n", /destination address is not IPv6/],
    ["PROXY TCP6 ::1 1::2::3 1 2\r\n", /destination address is not IPv6/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", /source port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /source port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", /source port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", /source port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n", /destination port/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", /destination port/],
    ["PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", /printable ASCII/],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00e9\r\n", /printable ASCII/],
  ];
  for (const [line, reason] of badLines) {
    it(`rejects ${JSON.stringify(line)}`, () => {
      assert.match(reasonOf(ascii(line)), reason);
    });
  }
});

describe("parseProxyHeader: v2", () => {
  it("parses TCP over IPv4 and leaves the payload after the header", () => {
    const header = v2(0x21, 0x11, 12, [192, 0, 2, 1, 198, 51, 100, 7, 0xdb, 0xc4, 0x01, 0xbb]);
    const result = parseProxyHeader(Buffer.concat([header, ascii("\x16\x03\x01")]));
    assert.deepEqual(result, {
      kind: "done",
      version: 2,
      command: "proxy",
      family: "inet",
      transport: "stream",
      source: { address: "192.0.2.1", port: 56260 },
      destination: { address: "198.51.100.7", port: 443 },
      consumed: 28,
    });
  });

  it("parses UDP over IPv6, writing IPv4-mapped addresses as IPv4", () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    const dst = [...new Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1];
    const result = parseProxyHeader(v2(0x21, 0x22, 36, [...src, ...dst, 0, 53, 0, 54]));
    assert.equal(result.kind, "done");
    if (result.kind !== "done") return;
    assert.equal(result.transport, "dgram");
    assert.deepEqual(result.source, { address: "2001:db8::1", port: 53 });
    assert.deepEqual(result.destination, { address: "10.0.0.1", port: 54 });
  });

  it("parses AF_UNIX paths up to their NUL", () => {
    const path = (text: string) => [...ascii(text), ...new Array(108 - text.length).fill(0)];
    const result = parseProxyHeader(v2(0x21, 0x31, 216, [...path("/run/a.sock"), ...path("/run/b.sock")]));
    assert.equal(result.kind, "done");
    if (result.kind !== "done") return;
    assert.equal(result.family, "unix");
    assert.deepEqual(result.source, { address: "/run/a.sock", port: 0 });
    assert.deepEqual(result.destination, { address: "/run/b.sock", port: 0 });
  });

  it("accepts LOCAL and ignores its address block and family", () => {
    assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, 0)), {
      kind: "done",
      version: 2,
      command: "local",
      family: "unspec",
      transport: "unspec",
      consumed: 16,
    });
    const withBlock = parseProxyHeader(v2(0x20, 0x11, 12, new Array(12).fill(1)));
    assert.equal(withBlock.kind === "done" && withBlock.consumed, 28);
    assert.equal(withBlock.kind === "done" && withBlock.source, undefined);
    // LOCAL may declare a family and send no block at all.
    assert.equal(parseProxyHeader(v2(0x20, 0x11, 0)).kind, "done");
  });

  it("accepts PROXY with AF_UNSPEC and gives no addresses", () => {
    const result = parseProxyHeader(v2(0x21, 0x00, 0));
    assert.equal(result.kind === "done" && result.source, undefined);
    const oddCombination = parseProxyHeader(v2(0x21, 0x10, 4, [1, 2, 3, 4]));
    assert.equal(oddCombination.kind === "done" && oddCombination.family, "unspec");
  });

  it("returns TLVs after the address block, bounded by the declared length", () => {
    const tlvs = [0x02, 0x00, 0x03, ...ascii("a.b"), 0x04, 0x00, 0x00];
    const result = parseProxyHeader(
      v2(0x21, 0x11, 12 + tlvs.length, [...new Array(12).fill(0), ...tlvs, 0xff]),
    );
    assert.equal(result.kind, "done");
    if (result.kind !== "done") return;
    assert.equal(result.consumed, 16 + 12 + tlvs.length);
    assert.deepEqual(
      result.tlvs?.map((t) => [t.type, Buffer.from(t.value).toString("latin1")]),
      [
        [2, "a.b"],
        [4, ""],
      ],
    );
  });

  it("feeds byte by byte: incomplete until the declared length is there", () => {
    assertIncompleteUntilEnd(v2(0x21, 0x11, 15, [...new Array(12).fill(7), 0x04, 0x00, 0x00]));
    assertIncompleteUntilEnd(v2(0x20, 0x00, 0));
  });

  it("rejects versions other than 2 and unassigned commands as soon as byte 13 arrives", () => {
    assert.match(reasonOf(Buffer.from([...SIG, 0x11])), /version 1 is not 2/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x31])), /version 3 is not 2/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x00])), /version 0 is not 2/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x22])), /command 2/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x2f])), /command 15/);
  });

  it("rejects undefined families and transports", () => {
    assert.match(reasonOf(Buffer.from([...SIG, 0x21, 0x41])), /address family 4/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x21, 0xf1])), /address family 15/);
    assert.match(reasonOf(Buffer.from([...SIG, 0x21, 0x13])), /transport protocol 3/);
  });

  it("rejects a length that is shorter than the address block, before waiting for it", () => {
    assert.match(
      reasonOf(v2(0x21, 0x11, 11)),
      /length 11 is shorter than the inet address block \(12 bytes\)/,
    );
    assert.match(reasonOf(v2(0x21, 0x21, 12)), /inet6 address block \(36 bytes\)/);
    assert.match(reasonOf(v2(0x21, 0x31, 36)), /unix address block \(216 bytes\)/);
  });

  it("waits for a length that claims more than has arrived, and caps it", () => {
    assert.deepEqual(parseProxyHeader(v2(0x21, 0x11, 200, new Array(12).fill(0))), { kind: "incomplete" });
    assert.match(reasonOf(v2(0x21, 0x11, 1600)), /1616 bytes is over the limit of 1536/);
    assert.match(reasonOf(v2(0x21, 0x11, 0xffff)), /over the limit/);
    const noop = [0x04, 1997 >> 8, 1997 & 0xff, ...new Array(1997).fill(0)];
    assert.match(reasonOf(v2(0x21, 0x00, 2000, noop)), /2016 bytes is over the limit of 1536/);
    assert.equal(parseProxyHeader(v2(0x21, 0x00, 2000, noop), { maxV2Bytes: 4096 }).kind, "done");
    assert.equal(parseProxyHeader(v2(0x21, 0x11, 100), { maxV2Bytes: 64 }).kind, "invalid");
  });

  it("rejects TLVs that overrun the declared length", () => {
    const block = new Array(12).fill(0);
    assert.match(reasonOf(v2(0x21, 0x11, 14, [...block, 0x04, 0x00])), /TLV header overruns/);
    assert.match(reasonOf(v2(0x21, 0x11, 16, [...block, 0x02, 0x00, 0x05, 0x61])), /type 0x2 overruns/);
    assert.match(reasonOf(v2(0x21, 0x00, 3, [0x05, 0xff, 0xff])), /type 0x5 overruns/);
  });
});
