import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decoyPasswordHash, hashPassword, verifyPassword } from "./password-hash.js";

describe("password hashes (scrypt$N$r$p$salt$hash)", () => {
  it("verifies the password a hash was made from, and no other", async () => {
    const hash = await hashPassword("correct horse");
    assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    assert.equal(await verifyPassword("correct horse", hash), true);
    assert.equal(await verifyPassword("correct horse ", hash), false);
    assert.notEqual(await hashPassword("correct horse"), hash, "a new salt each time");
  });

  it("answers false, never throws, for a malformed hash", async () => {
    for (const stored of [
      "",
      "scrypt$1$2$3",
      "bcrypt$16384$8$1$c2FsdA==$aGFzaA==",
      "scrypt$x$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==",
      "scrypt$16384$8$1$c2FsdA==$c2hvcnQ=",
    ]) {
      assert.equal(await verifyPassword("pw", stored), false, stored);
    }
  });

  it("a decoy hash is well formed and matches no password", async () => {
    const decoy = decoyPasswordHash();
    assert.equal(decoy.split("$").length, 6);
    assert.equal(await verifyPassword("", decoy), false);
    assert.notEqual(decoyPasswordHash(), decoy);
  });
});
