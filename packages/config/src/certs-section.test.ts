import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./errors.js";
import { parseConfig } from "./load-config.js";

function issues(yaml: string): string {
  try {
    parseConfig(yaml, "t.yaml");
    return "";
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
}

describe("certs section", () => {
  it("fills defaults and lower-cases names", () => {
    const config = parseConfig(
      "certs: { certificates: [{ name: WWW.Example.com }, { name: '*.example.com', altNames: [example.com], challenge: dns-01 }], dns01: { servers: ['127.0.0.1:53'] } }",
    );
    const certs = config.certs;
    assert.equal(certs?.directory, "internal");
    assert.equal(certs?.httpPort, 80);
    assert.deepEqual(certs?.certificates[0], { name: "www.example.com", altNames: [], challenge: "http-01" });
    assert.equal(certs?.renewal.lifetimeFraction, 2 / 3);
    assert.equal(certs?.lockTtlMs, 120_000);
  });

  it("is strict and names the bad value", () => {
    assert.match(issues("certs: { names: [a.example.com] }"), /certs/);
    assert.match(issues("certs: { directory: ftp://ca.example }"), /certs\.directory/);
    assert.match(issues("certs: { email: nobody }"), /certs\.email: is not an email address/);
    assert.match(issues("certs: { certificates: [{ name: 'a b' }] }"), /is not a host name/);
    assert.match(issues("certs: { certificates: [{ name: 'a.*.example.com' }] }"), /is not a host name/);
    assert.match(
      issues("certs: { certificates: [{ name: a.example.com, challenge: tls-alpn-01 }] }"),
      /challenge/,
    );
  });

  it("refuses a wildcard without dns-01, dns-01 without servers, and a name twice", () => {
    assert.match(
      issues("certs: { directory: letsencrypt, certificates: [{ name: '*.example.com' }] }"),
      /certificates\[0\]\.challenge: \*\.example\.com is a wildcard: it needs challenge dns-01/,
    );
    assert.match(
      issues("certs: { directory: letsencrypt, certificates: [{ name: a.example.com, challenge: dns-01 }] }"),
      /dns01\.servers/,
    );
    assert.match(
      issues(
        "certs: { certificates: [{ name: a.example.com }, { name: b.example.com, altNames: [a.example.com] }] }",
      ),
      /a\.example\.com is already in certificates\[0\]/,
    );
    assert.equal(issues("certs: { directory: internal, certificates: [{ name: '*.example.com' }] }"), "");
  });
});
