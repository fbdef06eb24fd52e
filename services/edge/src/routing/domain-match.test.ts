import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileDomainPatterns, DomainPatternError, matchPath } from "./domain-match.js";

describe("compileDomainPatterns", () => {
  it("matches exact names case-insensitively, ignoring a trailing dot", () => {
    const match = compileDomainPatterns(["Example.COM", "mail.example.net."]);
    assert.equal(match("example.com"), true);
    assert.equal(match("EXAMPLE.com."), true);
    assert.equal(match("mail.example.net"), true);
    assert.equal(match("www.example.com"), false);
    assert.equal(match("example.co"), false);
    assert.equal(match("xexample.com"), false);
  });

  it("matches *.example.com for exactly one more label, never the apex", () => {
    const match = compileDomainPatterns(["*.example.com"]);
    assert.equal(match("a.example.com"), true);
    assert.equal(match("WWW.Example.Com."), true);
    assert.equal(match("example.com"), false);
    assert.equal(match("a.b.example.com"), false);
    assert.equal(match("aexample.com"), false);
    assert.equal(match(".example.com"), false);
  });

  it("matches **.example.com for one or more labels, never the apex", () => {
    const match = compileDomainPatterns(["**.example.com"]);
    assert.equal(match("a.example.com"), true);
    assert.equal(match("a.b.c.example.com"), true);
    assert.equal(match("example.com"), false);
    assert.equal(match("a.example.org"), false);
    assert.equal(match("a..example.com"), false);
  });

  it("combines patterns, including the apex next to a wildcard", () => {
    const match = compileDomainPatterns([
      "example.com",
      "*.example.com",
      "**.example.org",
      "_dmarc.example.net",
    ]);
    assert.equal(match("example.com"), true);
    assert.equal(match("x.example.com"), true);
    assert.equal(match("y.x.example.com"), false);
    assert.equal(match("y.x.example.org"), true);
    assert.equal(match("example.org"), false);
    assert.equal(match("_dmarc.example.net"), true);
  });

  it("matches any name with *, but not an empty one", () => {
    const match = compileDomainPatterns(["*"]);
    assert.equal(match("anything.example"), true);
    assert.equal(match("localhost"), true);
    assert.equal(match(""), false);
  });

  it("matches nothing with no patterns and never throws on odd input", () => {
    assert.equal(compileDomainPatterns([])("example.com"), false);
    const match = compileDomainPatterns(["*.example.com"]);
    for (const odd of ["", ".", "..", "example.com..", undefined, null, 42]) {
      assert.equal(match(odd as unknown as string), false, String(odd));
    }
  });

  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["*.", /\* may only stand alone/],
    ["**.", /\* may only stand alone/],
    ["*.example.com.*", /\* may only stand alone/],
    ["a*.example.com", /\* may only stand alone/],
    ["*example.com", /\* may only stand alone/],
    ["www.*.com", /\* may only stand alone/],
    ["*.*.example.com", /\* may only stand alone/],
    ["***.example.com", /\* may only stand alone/],
    ["a..com", /empty label/],
    [".example.com", /empty label/],
    ["exa mple.com", /character " "/],
    ["example.com:443", /character ":"/],
    [`${"a".repeat(64)}.com`, /longer than 63/],
    [`${"a.".repeat(127)}ab`, /longer than 253/],
  ];
  for (const [pattern, reason] of bad) {
    it(`rejects the pattern ${JSON.stringify(pattern)} with DomainPatternError`, () => {
      assert.throws(
        () => compileDomainPatterns(["ok.example", pattern]),
        (error: unknown) => {
          assert.ok(error instanceof DomainPatternError);
          assert.equal(error.pattern, pattern);
          assert.match(error.message, reason);
          assert.ok(error.message.startsWith(`${JSON.stringify(pattern)} is not a domain pattern: `));
          return true;
        },
      );
    });
  }
});

describe("matchPath", () => {
  const acme = ["/.well-known/acme-challenge/*"];

  it("matches a prefix pattern ending in *", () => {
    assert.equal(matchPath(acme, "/.well-known/acme-challenge/token123"), true);
    assert.equal(matchPath(acme, "/.well-known/acme-challenge/"), true);
    assert.equal(matchPath(acme, "/.well-known/acme-challenge"), false);
    assert.equal(matchPath(acme, "/.well-known/acme-challengeX/a"), false);
    assert.equal(matchPath(acme, "/"), false);
  });

  it("matches exact patterns exactly, case-sensitively", () => {
    assert.equal(matchPath(["/health"], "/health"), true);
    assert.equal(matchPath(["/health"], "/health/"), false);
    assert.equal(matchPath(["/health"], "/Health"), false);
    assert.equal(matchPath(["/health"], "/healthz"), false);
  });

  it("ignores a query or fragment on the path", () => {
    assert.equal(matchPath(["/health"], "/health?verbose=1"), true);
    assert.equal(matchPath(["/health"], "/health#x"), true);
    assert.equal(matchPath(["/a/*"], "/a?/b"), false);
    assert.equal(matchPath(acme, "/.well-known/acme-challenge/t?x=1"), true);
  });

  it("matches everything with *, nothing with no patterns", () => {
    assert.equal(matchPath(["*"], "/anything"), true);
    assert.equal(matchPath(["*"], ""), true);
    assert.equal(matchPath([], "/"), false);
    assert.equal(matchPath(["/x"], undefined as unknown as string), false);
  });

  it("tries each pattern in turn", () => {
    assert.equal(matchPath(["/a", "/b/*"], "/b/c"), true);
    assert.equal(matchPath(["/a", "/b/*"], "/a"), true);
    assert.equal(matchPath(["/a", "/b/*"], "/c"), false);
  });
});
