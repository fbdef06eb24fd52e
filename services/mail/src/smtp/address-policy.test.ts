import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AddressPolicy } from "./address-policy.js";

const policy = new AddressPolicy({
  domains: ["switchyard.test"],
  mailboxes: [{ address: "demo@switchyard.test" }, { address: "ops@switchyard.test" }],
  aliases: { "postmaster@switchyard.test": ["demo@switchyard.test", "ops@switchyard.test"] },
  catchAll: undefined,
});

describe("recipient policy", () => {
  it("accepts a mailbox, case-insensitively", () => {
    assert.deepEqual(policy.recipient("Demo@SwitchYard.test"), {
      ok: true,
      mailboxes: ["demo@switchyard.test"],
    });
  });

  it("expands an alias to its mailboxes", () => {
    assert.deepEqual(policy.recipient("postmaster@switchyard.test"), {
      ok: true,
      mailboxes: ["demo@switchyard.test", "ops@switchyard.test"],
    });
  });

  it("takes RCPT TO:<postmaster> without a domain as the first domain's postmaster (RFC 5321 §4.5.1)", () => {
    for (const bare of ["postmaster", "PostMaster"]) {
      assert.deepEqual(policy.recipient(bare), {
        ok: true,
        mailboxes: ["demo@switchyard.test", "ops@switchyard.test"],
      });
    }
    // Any other domainless local part is still refused.
    assert.deepEqual(policy.recipient("demo"), { ok: false, code: 550, message: "5.7.1 Relaying denied" });
  });

  it("answers 550 5.1.1 for an unknown user in our domain", () => {
    const verdict = policy.recipient("nobody@switchyard.test");
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.code, 550);
    assert.match(!verdict.ok ? verdict.message : "", /^5\.1\.1/);
  });

  it("gives an unknown user to the catch-all when there is one", () => {
    const withCatchAll = new AddressPolicy({
      domains: ["switchyard.test"],
      mailboxes: [{ address: "demo@switchyard.test" }],
      aliases: {},
      catchAll: "demo@switchyard.test",
    });
    assert.deepEqual(withCatchAll.recipient("x@switchyard.test"), {
      ok: true,
      mailboxes: ["demo@switchyard.test"],
    });
    assert.equal(withCatchAll.recipient("x@elsewhere.test").ok, false);
  });

  for (const trick of [
    "victim@elsewhere.test",
    "victim%elsewhere.test@switchyard.test",
    "elsewhere.test!victim@switchyard.test",
    '"victim@elsewhere.test"@switchyard.test',
    '"demo"@switchyard.test',
    "@switchyard.test,@relay.test:victim@elsewhere.test",
    "@switchyard.test:demo@switchyard.test",
    "demo@[127.0.0.1]",
    "demo@[IPv6:::1]",
    "demo@switchyard.test@elsewhere.test",
    "demo@switchyard.test.",
    "demo@sub.switchyard.test",
    "demo",
    "",
  ]) {
    it(`refuses to relay ${JSON.stringify(trick)} (550 5.7.1)`, () => {
      const verdict = policy.recipient(trick);
      assert.equal(verdict.ok, false);
      assert.equal(!verdict.ok && verdict.code, 550);
      assert.match(!verdict.ok ? verdict.message : "", /^5\.7\.1/);
    });
  }
});

describe("sender policy on submission", () => {
  it("lets a user send as their own address or an alias delivering to them", () => {
    assert.equal(policy.maySendAs("demo@switchyard.test", "Demo@switchyard.test"), true);
    assert.equal(policy.maySendAs("demo@switchyard.test", "postmaster@switchyard.test"), true);
  });

  it("refuses anyone else's address, and tricks", () => {
    assert.equal(policy.maySendAs("demo@switchyard.test", "ops@switchyard.test"), false);
    assert.equal(policy.maySendAs("demo@switchyard.test", "ceo@elsewhere.test"), false);
    assert.equal(policy.maySendAs("demo@switchyard.test", ""), false);
    assert.equal(policy.maySendAs("demo@switchyard.test", '"demo@switchyard.test"@elsewhere.test'), false);
  });
});
