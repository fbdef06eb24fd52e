import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CredentialCheck, type PasswordVerifier } from "./credential-check.js";
import { hashPassword, verifyPassword } from "./password-hash.js";

function spy(): { verify: PasswordVerifier; calls: Array<[string, string]> } {
  const calls: Array<[string, string]> = [];
  return {
    calls,
    verify: async (password, stored) => {
      calls.push([password, stored]);
      return verifyPassword(password, stored);
    },
  };
}

describe("CredentialCheck", () => {
  it("runs the scrypt verification for an unknown user too, against a dummy hash with the config's parameters", async () => {
    const hash = await hashPassword("right");
    const { verify, calls } = spy();
    const check = new CredentialCheck([{ address: "demo@switchyard.test", passwordHash: hash }], verify);
    assert.equal(await check.check("nobody@switchyard.test", "right"), undefined);
    assert.equal(calls.length, 1, "the unknown user costs one hash verification, like a real one");
    const [, dummy] = calls[0] as [string, string];
    assert.notEqual(dummy, hash);
    assert.deepEqual(dummy.split("$").slice(0, 4), hash.split("$").slice(0, 4), "same scrypt N, r, p");
  });

  it("runs it for a mailbox without a password, and refuses", async () => {
    const { verify, calls } = spy();
    const check = new CredentialCheck([{ address: "ops@switchyard.test" }], verify);
    assert.equal(await check.check("ops@switchyard.test", ""), undefined);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]?.[1].split("$").slice(0, 4), ["scrypt", "16384", "8", "1"]);
  });

  it("accepts the right password (any case of the address) and refuses a wrong one, one verification each", async () => {
    const hash = await hashPassword("right");
    const { verify, calls } = spy();
    const check = new CredentialCheck([{ address: "demo@switchyard.test", passwordHash: hash }], verify);
    assert.equal(await check.check("Demo@Switchyard.test", "right"), "demo@switchyard.test");
    assert.equal(await check.check("demo@switchyard.test", "wrong"), undefined);
    assert.deepEqual(
      calls.map((c) => c[1]),
      [hash, hash],
    );
  });
});
