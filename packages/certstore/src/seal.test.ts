import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { DecryptError } from "./errors.js";
import { decrypt, encrypt } from "./seal.js";

describe("sealing private keys for KV", () => {
  const key = randomBytes(32);

  it("opens what it sealed, and seals the same text differently each time", () => {
    const a = encrypt("-----BEGIN PRIVATE KEY-----", key, "example.com");
    const b = encrypt("-----BEGIN PRIVATE KEY-----", key, "example.com");
    assert.notEqual(a, b);
    assert.equal(decrypt(a, key, "example.com").toString(), "-----BEGIN PRIVATE KEY-----");
    assert.ok(!a.includes("PRIVATE"));
  });

  it("refuses another key, another record's name and a changed byte", () => {
    const sealed = encrypt("secret", key, "a.example.com");
    assert.throws(() => decrypt(sealed, randomBytes(32), "a.example.com"), DecryptError);
    assert.throws(() => decrypt(sealed, key, "b.example.com"), DecryptError);
    const parts = sealed.split(":");
    const body = Buffer.from(parts[3] as string, "base64url");
    body[0] = (body[0] as number) ^ 1;
    parts[3] = body.toString("base64url");
    assert.throws(() => decrypt(parts.join(":"), key, "a.example.com"), DecryptError);
    assert.throws(() => decrypt("plain text", key), DecryptError);
  });

  it("refuses a key that is not 32 bytes", () => {
    assert.throws(() => encrypt("x", randomBytes(16)), /32 bytes/);
  });
});
