import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fuzzRandom, mutatePrefix } from "@switchyard/testkit";
import { type HttpHead, type HttpHeadResult, parseHttpHead } from "./http-head.js";

const bytes = (text: string) => Buffer.from(text, "latin1");

function done(text: string, maxBytes?: number) {
  const result = parseHttpHead(bytes(text), maxBytes);
  assert.equal(result.kind, "done", `expected done, got ${JSON.stringify(result)}`);
  return result as Extract<HttpHeadResult, { kind: "done" }>;
}

function reasonOf(text: string, maxBytes?: number): string {
  const result = parseHttpHead(bytes(text), maxBytes);
  assert.equal(result.kind, "invalid", `expected invalid, got ${JSON.stringify(result)}`);
  return result.kind === "invalid" ? result.reason : "";
}

describe("parseHttpHead: good requests", () => {
  it("reads method, path, host and version, and where the head ends", () => {
    const head = "GET /index.html?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nAccept: */*\r\n\r\n";
    const result = done(`${head}body`);
    assert.deepEqual(result, {
      kind: "done",
      method: "GET",
      target: "/index.html?x=1",
      path: "/index.html",
      host: "example.com",
      version: "1.1",
      consumed: head.length,
    });
  });

  it("matches the Host header name case-insensitively and trims its whitespace", () => {
    assert.equal(done("GET / HTTP/1.1\r\nhOsT:\t a.example \t\r\n\r\n").host, "a.example");
    assert.equal(done("GET / HTTP/1.1\r\nHOST:a.example\r\n\r\n").host, "a.example");
  });

  it("drops a trailing dot and canonicalises IP literals", () => {
    assert.equal(done("GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n").host, "example.com");
    assert.equal(done("GET / HTTP/1.1\r\nHost: [2001:DB8::0:1]:443\r\n\r\n").host, "2001:db8::1");
    assert.equal(done("GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n").host, "192.0.2.1");
    assert.equal(done("GET / HTTP/1.1\r\nHost: a.example:\r\n\r\n").host, "a.example");
  });

  it("allows HTTP/1.0 without Host, and an empty Host", () => {
    const result = done("GET / HTTP/1.0\r\n\r\n");
    assert.equal(result.host, null);
    assert.equal(result.version, "1.0");
    assert.equal(done("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, null);
  });

  it("takes the host of an absolute-form target over the Host header", () => {
    const result = done("GET http://Proxy.Example:81/a/b?c HTTP/1.1\r\nHost: other.example\r\n\r\n");
    assert.equal(result.host, "proxy.example");
    assert.equal(result.path, "/a/b");
    assert.equal(done("GET https://x.example HTTP/1.0\r\n\r\n").path, "/");
    assert.equal(done("GET http://x.example?q HTTP/1.0\r\n\r\n").path, "/");
  });

  it("reads authority-form CONNECT and asterisk-form OPTIONS", () => {
    const connect = done("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n");
    assert.equal(connect.host, "db.example");
    assert.equal(connect.path, "");
    assert.equal(done("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n").path, "*");
  });

  it("accepts any token as a method and obs-text in header values", () => {
    assert.equal(done("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n").method, "PURGE");
    assert.equal(done("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\u00e9\r\n\r\n").host, "a");
  });

  it("is incomplete for every prefix when fed byte by byte", () => {
    const text =
      "POST /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: Acme.Example\r\nContent-Length: 0\r\n\r\n";
    const buf = bytes(text);
    for (let n = 0; n < buf.length; n++) {
      assert.deepEqual(
        parseHttpHead(buf.subarray(0, n)),
        { kind: "incomplete" },
        `prefix ${JSON.stringify(text.slice(0, n))}`,
      );
    }
    const result = parseHttpHead(buf);
    assert.equal(result.kind === "done" && result.host, "acme.example");
    assert.equal(result.kind === "done" && result.path, "/.well-known/acme-challenge/tok");
    assert.equal(result.kind === "done" && result.consumed, buf.length);
  });
});

describe("parseHttpHead: not HTTP", () => {
  it("says not-http from the first byte when it cannot start a method", () => {
    assert.deepEqual(parseHttpHead(Buffer.from([0x16])), { kind: "not-http" }); // TLS
    assert.deepEqual(parseHttpHead(Buffer.from([0x0d])), { kind: "not-http" }); // PROXY v2
    assert.deepEqual(parseHttpHead(Buffer.from([0x00])), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes(" GET")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("\r\nGET / HTTP/1.1\r\n")), { kind: "not-http" });
  });

  it("says not-http as soon as the request line departs from `method target HTTP/`", () => {
    assert.deepEqual(parseHttpHead(bytes("GET\r")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("GET  /")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("GET /\r\n")), { kind: "not-http" }); // HTTP/0.9
    assert.deepEqual(parseHttpHead(bytes("GET / X")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("GET / http/1.1\r\n")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("SSH-2.0-OpenSSH_9.2p1 Debian\r\n")), { kind: "not-http" });
    assert.deepEqual(parseHttpHead(bytes("EHLO mail.example\r\n")), { kind: "not-http" });
  });
});

describe("parseHttpHead: invalid", () => {
  const cases: Array<[string, RegExp]> = [
    ["GET / HTTP/2.0\r\n\r\n", /HTTP\/2.0 is not supported/],
    ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /HTTP\/2.0 is not supported/],
    ["GET / HTTP/1.2\r\n", /HTTP\/1.2 is not supported/],
    ["GET / HTTP/1.x\r\n", /malformed HTTP version/],
    ["GET / HTTP/11\r\n", /malformed HTTP version/],
    ["GET / HTTP/1.1\n", /request line does not end with CRLF/],
    ["GET / HTTP/1.1 \r\n", /request line does not end with CRLF/],
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /duplicate Host header/],
    ["GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n", /duplicate Host header/],
    ["GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", /without a Host header/],
    ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", /whitespace between header name and colon/],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /obsolete line folding/],
    ["GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", /invalid character in header value/],
    ["GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", /CR without LF/],
    ["GET / HTTP/1.1\r\nHost: a\r\n\rX", /CR without LF/],
    ["GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", /invalid character in header value/],
    ["GET / HTTP/1.1\r\nX(y): a\r\n\r\n", /invalid character in header name/],
    ["GET / HTTP/1.1\r\n: a\r\n\r\n", /does not start with a field name/],
    ["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", /invalid Host header/],
    ["GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n", /invalid Host header: port is out of range/],
    ["GET / HTTP/1.1\r\nHost: a.example:8o\r\n\r\n", /invalid Host header: port is not a number/],
    ["GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", /invalid Host header: unclosed/],
    ["GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n", /invalid Host header: bracketed host/],
    ["GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", /invalid Host header: unexpected text/],
    ["GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n", /invalid Host header/],
    ["GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", /invalid Host header: host is not a name/],
    ["GET / HTTP/1.1\r\nHost: :80\r\n\r\n", /invalid Host header: host is not a name/],
    ["GET * HTTP/1.1\r\nHost: a\r\n\r\n", /only for OPTIONS/],
    ["GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", /not a path or an absolute URI/],
    ["GET http://user:pw@a.example/ HTTP/1.1\r\nHost: a\r\n\r\n", /userinfo/],
    ["GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", /has no host/],
    ["GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", /not a path or an absolute URI/],
  ];
  for (const [text, reason] of cases) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.match(reasonOf(text), reason);
    });
  }

  it("finds the first problem before the head is complete", () => {
    assert.match(reasonOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n"), /duplicate Host/);
    assert.match(reasonOf("GET / HTTP/3.0"), /HTTP\/3.0 is not supported/);
  });

  it("gives up with `request head too large` past maxBytes", () => {
    const long = `GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ${"x".repeat(200)}\r\n\r\n`;
    assert.equal(reasonOf(long, 100), "request head too large");
    assert.equal(reasonOf(`GET /${"a".repeat(300)}`, 100), "request head too large");
    assert.equal(reasonOf("GET /".padEnd(8192, "a")), "request head too large");
    assert.deepEqual(parseHttpHead(bytes("GET /".padEnd(8191, "a"))), { kind: "incomplete" });
    // A head that ends exactly at the limit is fine, whatever follows it.
    const exact = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert.equal(done(`${exact}${"z".repeat(500)}`, exact.length).consumed, exact.length);
    assert.equal(reasonOf(exact, exact.length - 1), "request head too large");
  });

  it("gives a well-formed, final answer for mutated requests, and re-reads what it accepts", (t) => {
    const random = fuzzRandom(t);
    const seeds = [
      bytes("GET http://a.example:80/p?q HTTP/1.1\r\nHost: [::1]:80\r\nX: y\r\n\r\n"),
      bytes("POST /a/b?c HTTP/1.1\r\nhost: B.Example.\r\nContent-Length: 0\r\n\r\n"),
      bytes("GET / HTTP/1.0\r\n\r\n"),
      bytes("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n"),
    ];
    const kinds = new Map<string, number>();
    for (let n = 0; n < 20_000; n++) {
      const buf = Buffer.concat([
        mutatePrefix(random, seeds[n % seeds.length] as Buffer),
        random.bytes(random.int(3)),
      ]);
      const result = parseHttpHead(buf);
      const at = `input ${JSON.stringify(buf.toString("latin1"))} (seed ${random.seed})`;
      kinds.set(result.kind, (kinds.get(result.kind) ?? 0) + 1);
      if (result.kind === "incomplete") continue;
      if (result.kind !== "done") {
        if (result.kind === "invalid") assert.ok(result.reason.length > 0, at);
        // A decision is final: more bytes do not change it.
        assert.deepEqual(parseHttpHead(Buffer.concat([buf, random.bytes(1 + random.int(100))])), result, at);
        continue;
      }
      assert.ok(result.consumed <= buf.length, at);
      assert.equal(buf.subarray(result.consumed - 4, result.consumed).toString("latin1"), "\r\n\r\n", at);
      assert.deepEqual(parseHttpHead(buf.subarray(0, result.consumed)), result, at);
      assert.deepEqual(
        parseHttpHead(buf.subarray(0, random.int(result.consumed))),
        { kind: "incomplete" },
        at,
      );
      assert.match(result.method, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, at);
      if (result.host !== null) assert.match(result.host, /^[a-z0-9.:_~!$&'()*+,;=%-]*[^.]$/, at);
      // The same request written plainly reads back the same.
      const host = result.host === null ? "" : result.host.includes(":") ? `[${result.host}]` : result.host;
      const again = parseHttpHead(
        bytes(`${result.method} ${result.target} HTTP/${result.version}\r\nHost: ${host}\r\n\r\n`),
      );
      assert.equal(again.kind, "done", at);
      const { consumed: _a, ...want } = result;
      const { consumed: _b, ...got } = again as HttpHead;
      assert.deepEqual(got, want, at);
    }
    for (const kind of ["done", "incomplete", "invalid", "not-http"])
      assert.ok((kinds.get(kind) ?? 0) > 100, `${kind}: ${JSON.stringify([...kinds])}`);
  });
});
