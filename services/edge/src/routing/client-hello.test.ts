import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fuzzRandom, mutatePrefix } from "@switchyard/testkit";
import { type ClientHelloResult, parseClientHello } from "./client-hello.js";

const u16 = (n: number) => [n >> 8, n & 0xff];
const u24 = (n: number) => [n >> 16, (n >> 8) & 0xff, n & 0xff];
const ascii = (text: string) => [...Buffer.from(text, "latin1")];

function extension(type: number, data: number[]): number[] {
  return [...u16(type), ...u16(data.length), ...data];
}

function sniExtension(...names: string[]): number[] {
  const list = names.flatMap((name) => [0, ...u16(name.length), ...ascii(name)]);
  return extension(0, [...u16(list.length), ...list]);
}

function alpnExtension(...protocols: string[]): number[] {
  const list = protocols.flatMap((p) => [p.length, ...ascii(p)]);
  return extension(16, [...u16(list.length), ...list]);
}

/** A ClientHello handshake message (type, length, body) with the given extensions. */
function hello(
  extensions: number[][] | null,
  body: { sessionId?: number; suites?: number[] } = {},
): number[] {
  const sessionId = new Array(body.sessionId ?? 32).fill(0xaa);
  const suites = body.suites ?? [0x13, 0x01, 0x13, 0x02];
  const exts = extensions === null ? [] : extensions.flat();
  const content = [
    0x03,
    0x03,
    ...new Array(32).fill(0x42),
    sessionId.length,
    ...sessionId,
    ...u16(suites.length),
    ...suites,
    1,
    0,
    ...(extensions === null ? [] : [...u16(exts.length), ...exts]),
  ];
  return [CLIENT_HELLO, ...u24(content.length), ...content];
}
const CLIENT_HELLO = 1;

/** Wraps a handshake message in TLS records of at most `size` bytes each. */
function records(message: number[], size = 16384, version = 0x0301): Buffer {
  const out: number[] = [];
  for (let i = 0; i < message.length; i += size) {
    const chunk = message.slice(i, i + size);
    out.push(0x16, ...u16(version), ...u16(chunk.length), ...chunk);
  }
  return Buffer.from(out);
}

const done = (serverName: string | null, alpn: string[] = []): ClientHelloResult => ({
  kind: "done",
  serverName,
  alpn,
});

function reasonOf(buf: Uint8Array): string {
  const result = parseClientHello(buf);
  assert.equal(result.kind, "invalid", `expected invalid, got ${JSON.stringify(result)}`);
  return result.kind === "invalid" ? result.reason : "";
}

/** Feeds the bytes one at a time: incomplete for every strict prefix, then the final result. */
function feedByteByByte(buf: Buffer): ClientHelloResult {
  for (let n = 1; n < buf.length; n++) {
    const partial = parseClientHello(buf.subarray(0, n));
    assert.deepEqual(partial, { kind: "incomplete" }, `after ${n} of ${buf.length} bytes`);
  }
  return parseClientHello(buf);
}

describe("parseClientHello: deciding early", () => {
  it("says not-tls from the first byte", () => {
    assert.deepEqual(parseClientHello(Buffer.from("G")), { kind: "not-tls" });
    assert.deepEqual(parseClientHello(Buffer.from([0x80])), { kind: "not-tls" }); // SSLv2-style hello
    assert.deepEqual(parseClientHello(Buffer.from([0x17])), { kind: "not-tls" });
    assert.deepEqual(parseClientHello(Buffer.from("\r\n\r\n\0")), { kind: "not-tls" }); // PROXY v2
  });

  it("says not-tls when the second byte is not a TLS major version", () => {
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x02])), { kind: "not-tls" });
  });

  it("waits on an empty buffer and on a plausible record header", () => {
    assert.deepEqual(parseClientHello(Buffer.alloc(0)), { kind: "incomplete" });
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x02])), { kind: "incomplete" });
  });
});

describe("parseClientHello: hand-built hellos", () => {
  it("reads SNI and ALPN, lowercasing the name", () => {
    const buf = records(hello([sniExtension("WWW.Example.COM"), alpnExtension("h2", "http/1.1")]));
    assert.deepEqual(parseClientHello(buf), done("www.example.com", ["h2", "http/1.1"]));
  });

  it("gives null and [] when the extensions are missing, and when there are none at all", () => {
    assert.deepEqual(parseClientHello(records(hello([extension(43, [2, 3, 4])]))), done(null));
    assert.deepEqual(parseClientHello(records(hello(null))), done(null));
    assert.deepEqual(parseClientHello(records(hello([]))), done(null));
  });

  it("skips unknown extensions and unknown server name types", () => {
    const other = extension(0, [...u16(12), 0x07, ...u16(1), 0x00, 0, ...u16(5), ...ascii("a.com")]);
    const buf = records(hello([extension(0xfe0d, [1, 2, 3]), extension(0x0a0a, []), other]));
    assert.deepEqual(parseClientHello(buf), done("a.com"));
  });

  it("reassembles a ClientHello fragmented over several records", () => {
    const message = hello([sniExtension("frag.example"), alpnExtension("acme-tls/1")]);
    for (const size of [1, 3, 4, 5, 50, message.length - 1]) {
      assert.deepEqual(
        parseClientHello(records(message, size)),
        done("frag.example", ["acme-tls/1"]),
        `size ${size}`,
      );
    }
  });

  it("is incomplete for every prefix when fed byte by byte, fragmented or not", () => {
    const message = hello([sniExtension("slow.example"), alpnExtension("h2")]);
    assert.deepEqual(feedByteByByte(records(message)), done("slow.example", ["h2"]));
    assert.deepEqual(feedByteByByte(records(message, 7)), done("slow.example", ["h2"]));
  });

  it("ignores what follows the ClientHello", () => {
    const buf = Buffer.concat([
      records(hello([sniExtension("a.b")])),
      Buffer.from([0x14, 0x03, 0x03, 0, 1, 1]),
    ]);
    assert.deepEqual(parseClientHello(buf), done("a.b"));
  });

  it("accepts the longest legal name and labels", () => {
    const label63 = "a".repeat(63);
    const name = `${label63}.${label63}.${label63}.${"b".repeat(61)}`;
    assert.equal(name.length, 253);
    assert.deepEqual(parseClientHello(records(hello([sniExtension(name)]))), done(name));
    assert.deepEqual(
      parseClientHello(records(hello([sniExtension("xn--bcher-kva.example")]))),
      done("xn--bcher-kva.example"),
    );
    assert.deepEqual(parseClientHello(records(hello([sniExtension("localhost")]))), done("localhost"));
    assert.deepEqual(
      parseClientHello(records(hello([sniExtension("1password.com")]))),
      done("1password.com"),
    );
  });

  const badNames: Array<[string, RegExp]> = [
    ["example.com.", /trailing dot/],
    ["", /empty/],
    ["a..b", /empty label/],
    [".a.b", /empty label/],
    [`${"a".repeat(64)}.com`, /longer than 63/],
    [`${"a.".repeat(127)}ab`, /longer than 253/],
    ["-a.com", /hyphen/],
    ["a-.com", /hyphen/],
    ["a_b.com", /not a letter, digit, hyphen or dot/],
    ["a b.com", /not a letter, digit, hyphen or dot/],
    ["bücher.de", /not a letter, digit, hyphen or dot/],
    ["a.com\0evil", /not a letter, digit, hyphen or dot/],
    ["1.2.3.4.5", /IP address/],
  ];
  for (const [name, reason] of badNames) {
    it(`rejects the server name ${JSON.stringify(name)}`, () => {
      assert.match(reasonOf(records(hello([sniExtension(name)]))), reason);
    });
  }

  it("takes an IP address in server_name (RFC 6066 forbids it; kdig sends it) as no SNI", () => {
    for (const ip of ["192.0.2.1", "::1", "2001:db8::1"]) {
      assert.deepEqual(parseClientHello(records(hello([sniExtension(ip)]))), done(null), ip);
    }
    assert.deepEqual(parseClientHello(records(hello([sniExtension("a.com")]))), done("a.com"));
  });

  it("rejects two host names and two server_name or ALPN extensions", () => {
    assert.match(reasonOf(records(hello([sniExtension("a.com", "b.com")]))), /two host names/);
    assert.match(
      reasonOf(records(hello([sniExtension("a.com"), sniExtension("a.com")]))),
      /server_name extension appears twice/,
    );
    assert.match(
      reasonOf(records(hello([alpnExtension("h2"), alpnExtension("h2")]))),
      /ALPN extension appears twice/,
    );
  });

  it("rejects broken server_name and ALPN encodings", () => {
    assert.match(reasonOf(records(hello([extension(0, [])]))), /server_name extension is too short/);
    assert.match(reasonOf(records(hello([extension(0, [0, 0])]))), /server_name list is empty/);
    assert.match(
      reasonOf(records(hello([extension(0, [0, 9, 0, 0, 1, 0x61])]))),
      /list length does not match/,
    );
    assert.match(reasonOf(records(hello([extension(0, [0, 4, 0, 0, 9, 0x61])]))), /overruns the list/);
    assert.match(reasonOf(records(hello([extension(16, [0, 0])]))), /ALPN list is empty/);
    assert.match(reasonOf(records(hello([extension(16, [0, 1, 0])]))), /ALPN protocol name is empty/);
    assert.match(reasonOf(records(hello([extension(16, [0, 2, 5, 0x68])]))), /overruns the list/);
    assert.match(reasonOf(records(hello([extension(16, [0, 5, 1, 0x68])]))), /does not match/);
  });

  it("rejects lengths that lie in the hello body", () => {
    const good = hello([sniExtension("a.com")]);
    const extLengthAt = 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
    const lying = [...good];
    lying[extLengthAt + 1]! += 1;
    assert.match(reasonOf(records(lying)), /extensions length does not match/);
    const overrun = [...good];
    overrun[extLengthAt + 2 + 3] = 0xff; // the SNI extension's own length
    assert.match(reasonOf(records(overrun)), /extension 0 overruns/);
    assert.match(reasonOf(records(hello(null, { sessionId: 33 }))), /legacy_session_id/);
    assert.match(reasonOf(records(hello(null, { suites: [0x13] }))), /cipher_suites/);
    assert.match(reasonOf(records(hello(null, { suites: [] }))), /cipher_suites/);
    assert.match(reasonOf(records([1, ...u24(10), ...new Array(10).fill(3)])), /too short/);
    const truncated = hello(null);
    truncated.splice(-2, 2);
    truncated[3]! -= 2;
    assert.match(reasonOf(records(truncated)), /ends inside/);
  });

  it("rejects record-layer violations", () => {
    assert.match(reasonOf(Buffer.from([0x16, 0x03, 0x01, 0, 0])), /empty handshake record/);
    assert.match(reasonOf(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])), /over 16384/);
    assert.match(reasonOf(Buffer.from([0x16, 0x03, 0x09])), /record version/);
    assert.match(reasonOf(Buffer.from([0x16, 0x03, 0x01, 0, 4, 2, 0, 0, 0])), /not a ClientHello/);
    assert.match(reasonOf(Buffer.from([0x16, 0x03, 0x01, 0, 1, 2])), /not a ClientHello/);
    // A ChangeCipherSpec or alert record between fragments of the hello.
    const split = records(hello([sniExtension("a.com")]), 20);
    const alert = Buffer.from([0x15, 0x03, 0x03, 0, 2, 2, 40]);
    assert.match(reasonOf(Buffer.concat([split.subarray(0, 25), alert])), /non-handshake record/);
    assert.match(
      reasonOf(Buffer.concat([split.subarray(0, 25), Buffer.from([0x16, 0x04])])),
      /record version/,
    );
  });

  it("caps the ClientHello size before the bytes arrive", () => {
    assert.match(
      reasonOf(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 1, 0x01, 0x00, 0x00])),
      /65540 bytes is over the limit of 16384/,
    );
    const big = hello([extension(21, new Array(3000).fill(0)), sniExtension("big.example")]);
    assert.equal(parseClientHello(records(big), { maxHelloBytes: 2048 }).kind, "invalid");
    assert.deepEqual(parseClientHello(records(big)), done("big.example"));
  });

  it("gives a well-formed, final answer for mutated hellos, and reads back what it accepts", (t) => {
    const random = fuzzRandom(t);
    const seeds = [
      records(hello([sniExtension("fuzz.example"), alpnExtension("h2", "http/1.1")]), 40),
      records(hello([alpnExtension("acme-tls/1"), sniExtension("a.b")])),
      records(hello(null)),
    ];
    const kinds = new Map<string, number>();
    const hostname =
      /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
    for (let n = 0; n < 20_000; n++) {
      const buf = Buffer.concat([
        mutatePrefix(random, seeds[n % seeds.length] as Buffer),
        random.bytes(random.int(3)),
      ]);
      const result = parseClientHello(buf);
      const at = `input ${buf.toString("hex")} (seed ${random.seed})`;
      kinds.set(result.kind, (kinds.get(result.kind) ?? 0) + 1);
      if (result.kind === "incomplete") continue;
      // A decision is final: more bytes do not change it, and a prefix either waits or agrees.
      assert.deepEqual(parseClientHello(Buffer.concat([buf, random.bytes(1 + random.int(100))])), result, at);
      const prefix = parseClientHello(buf.subarray(0, random.int(buf.length)));
      if (prefix.kind !== "incomplete") assert.deepEqual(prefix, result, at);
      if (result.kind === "invalid") assert.ok(result.reason.length > 0, at);
      if (result.kind !== "done") continue;
      if (result.serverName !== null) assert.match(result.serverName, hostname, at);
      for (const protocol of result.alpn) assert.ok(protocol.length > 0 && protocol.length < 256, at);
      // A hello built from what was read gives back the same.
      const exts = [
        ...(result.serverName === null ? [] : [sniExtension(result.serverName)]),
        ...(result.alpn.length === 0 ? [] : [alpnExtension(...result.alpn)]),
      ];
      assert.deepEqual(parseClientHello(records(hello(exts))), result, at);
    }
    for (const kind of ["done", "incomplete", "invalid", "not-tls"])
      assert.ok((kinds.get(kind) ?? 0) > 100, `${kind}: ${JSON.stringify([...kinds])}`);
  });
});
