import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../errors.js";
import { parseConfig } from "../load-config.js";

function issues(yaml: string): string {
  try {
    parseConfig(yaml, "t.yaml");
    return "";
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
}

describe("mail section: inbound checks, DKIM keys, AUTH limits", () => {
  it("verifies inbound mail and honours DMARC reject by default, with the system resolver", () => {
    const mail = parseConfig("mail: { domains: [a.test] }").mail;
    assert.deepEqual(mail?.inbound, { verify: true, dmarcReject: true, timeoutMs: 20_000 });
    assert.deepEqual(mail?.dkim, []);
    assert.deepEqual(mail?.authLimits, { maxFailures: 5, windowMs: 900_000, banSeconds: 3600 });
  });

  it("takes a DNS server as ip, ip:port or [ipv6]:port, and nothing else", () => {
    for (const ok of ["192.0.2.53", "127.0.0.1:5353", "[::1]:53", "::1"]) {
      assert.equal(issues(`mail: { inbound: { resolver: "${ok}" } }`), "", ok);
    }
    for (const bad of ["dns.example", "127.0.0.1:99999", "1.2.3:53"]) {
      assert.match(
        issues(`mail: { inbound: { resolver: "${bad}" } }`),
        /mail\.inbound\.resolver: .* is not a DNS server address/,
      );
    }
  });

  it("accepts DKIM keys for our domains and subdomains, lower-cased", () => {
    const mail = parseConfig(
      "mail: { domains: [a.test], dkim: [{ domain: A.test, selector: S1, keyFile: k.pem }, { domain: news.a.test, selector: s1, keyFile: n.pem }] }",
    ).mail;
    assert.deepEqual(mail?.dkim[0], { domain: "a.test", selector: "s1", keyFile: "k.pem" });
  });

  it("refuses DKIM keys for foreign domains, two keys for one domain, bad selectors", () => {
    assert.match(
      issues("mail: { domains: [a.test], dkim: [{ domain: b.test, selector: s1, keyFile: k.pem }] }"),
      /mail\.dkim\[0\]\.domain: b\.test is not one of domains/,
    );
    assert.match(
      issues(
        "mail: { domains: [a.test], dkim: [{ domain: a.test, selector: s1, keyFile: k }, { domain: a.test, selector: s2, keyFile: k }] }",
      ),
      /mail\.dkim\[1\]\.domain: a\.test has two keys/,
    );
    assert.match(
      issues('mail: { domains: [a.test], dkim: [{ domain: a.test, selector: "s 1", keyFile: k }] }'),
      /mail\.dkim\[0\]\.selector: .* is not a DKIM selector/,
    );
    assert.match(
      issues("mail: { domains: [a.test], dkim: [{ domain: a.test, selector: s1 }] }"),
      /mail\.dkim\[0\]\.keyFile/,
    );
  });

  it("bounds the AUTH failure limit", () => {
    assert.match(issues("mail: { authLimits: { windowMs: 10 } }"), /mail\.authLimits\.windowMs/);
    assert.match(issues("mail: { authLimits: { maxFailures: -1 } }"), /mail\.authLimits\.maxFailures/);
  });
});
