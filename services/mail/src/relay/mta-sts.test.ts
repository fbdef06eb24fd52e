import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mxMatches, parsePolicy, txtPolicyId } from "./mta-sts.js";

describe("MTA-STS policy parsing (RFC 8461)", () => {
  it("parses a policy with several mx lines and CRLF endings", () => {
    assert.deepEqual(
      parsePolicy(
        "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
        "a1",
      ),
      { id: "a1", mode: "enforce", mx: ["mx1.example.com", "*.example.net"], maxAgeSeconds: 604800 },
    );
  });

  it("refuses a policy without version, with an unknown mode, or enforce without mx", () => {
    assert.equal(parsePolicy("mode: enforce\nmx: a.test\nmax_age: 1\n", "x"), undefined);
    assert.equal(parsePolicy("version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "x"), undefined);
    assert.equal(parsePolicy("version: STSv1\nmode: enforce\nmax_age: 1\n", "x"), undefined);
  });

  it("caps max_age at one year", () => {
    assert.equal(
      parsePolicy("version: STSv1\nmode: none\nmax_age: 99999999\n", "x")?.maxAgeSeconds,
      31_557_600,
    );
  });

  it("matches MX names exactly or by a one-label wildcard", () => {
    const policy = { mx: ["mx.example.com", "*.example.net"] };
    assert.equal(mxMatches(policy, "MX.example.com."), true);
    assert.equal(mxMatches(policy, "a.example.net"), true);
    assert.equal(mxMatches(policy, "a.b.example.net"), false);
    assert.equal(mxMatches(policy, "example.net"), false);
    assert.equal(mxMatches(policy, "mx.example.org"), false);
  });

  it("reads the id of the one v=STSv1 TXT record, none when there are several", () => {
    assert.equal(txtPolicyId(["v=STSv1; id=20160831085700Z;"]), "20160831085700Z");
    assert.equal(txtPolicyId(["something else", "v=STSv1; id=abc"]), "abc");
    assert.equal(txtPolicyId(["v=STSv1; id=a", "v=STSv1; id=b"]), undefined);
    assert.equal(txtPolicyId(["v=spf1 -all"]), undefined);
  });
});
