import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { certKey, nameOfKey, parseRecord } from "./record.js";

describe("certificate record keys", () => {
  it("encode wildcards in the KV key charset, one to one", () => {
    assert.equal(certKey("*.Example.com."), "cert._.example.com");
    assert.equal(certKey("mail.example.com"), "cert.mail.example.com");
    assert.equal(nameOfKey("cert._.example.com"), "*.example.com");
    assert.equal(nameOfKey(certKey("a-b.example.com")), "a-b.example.com");
    assert.match(certKey("*.example.com"), /^[-/_=.a-zA-Z0-9]+$/);
  });

  it("refuse names that cannot be keys", () => {
    assert.throws(() => certKey("a b.example.com"), /not a certificate name/);
    assert.throws(() => certKey("a..example.com"), /not a certificate name/);
    assert.throws(() => certKey("a.*.example.com"), /not a certificate name/);
  });
});

describe("parsing records", () => {
  it("refuses values that are not version 1 records", () => {
    assert.throws(() => parseRecord("nope"), /not JSON/);
    assert.throws(() => parseRecord("{}"), /version 1/);
    assert.throws(
      () => parseRecord(JSON.stringify({ version: 1, name: "a", names: ["a"], chain: "x", updatedAt: 1 })),
      /without a sealed key/,
    );
  });
});
