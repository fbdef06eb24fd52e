import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResourceRecord } from "../wire/records.js";
import { typeBitmap } from "../wire/wire-writer.js";
import { INCEPTION_BACKDATE_S, RENEW_AFTER_S, SignatureCache, VALIDITY_S } from "./signatures.js";
import { ZoneKey } from "./zone-key.js";

const rrset: ResourceRecord[] = [
  { name: "www.example.test", ttl: 300, data: { type: "A", address: "192.0.2.2" } },
  { name: "www.example.test", ttl: 300, data: { type: "A", address: "192.0.2.1" } },
];

describe("SignatureCache", () => {
  it("signs with inception backdated and expiry ahead, and reuses the RRSIG until its renewal time", () => {
    let now = Date.UTC(2026, 11, 4, 12, 0, 0);
    const cache = new SignatureCache(ZoneKey.generate("example.test", "ecdsap256sha256"), () => now);
    const first = cache.sign(rrset);
    const sig = first.rrsig.data;
    assert.equal(sig.type, "RRSIG");
    if (sig.type !== "RRSIG") return;
    const t = Math.floor(now / 1000);
    assert.equal(sig.inception, t - INCEPTION_BACKDATE_S);
    assert.equal(sig.expiration, t + VALIDITY_S);
    assert.equal(sig.labels, 3);
    assert.equal(sig.signature.length, 64, "ECDSA P-256 is r||s, 64 octets (RFC 6605), not DER");
    assert.equal(first.renewAt, (t + RENEW_AFTER_S) * 1000);
    assert.ok(RENEW_AFTER_S < VALIDITY_S - 86400, "renewed days before it expires");
    now += (RENEW_AFTER_S - 1) * 1000;
    assert.equal(cache.sign([...rrset].reverse()).rrsig, first.rrsig, "same RRset, any order: cached");
    assert.equal(cache.signed, 1);
    now += 2000;
    const renewed = cache.sign(rrset);
    assert.notEqual(renewed.rrsig, first.rrsig);
    assert.equal(cache.signed, 2);
  });

  it("labels leave out a leading wildcard label (RFC 4034 3.1.3); Ed25519 signatures are 64 octets", () => {
    const cache = new SignatureCache(ZoneKey.generate("example.test", "ed25519"));
    const made = cache.sign([
      { name: "*.w.example.test", ttl: 60, data: { type: "TXT", strings: [Buffer.from("x")] } },
    ]);
    assert.equal(made.rrsig.data.type === "RRSIG" && made.rrsig.data.labels, 3);
    assert.equal(made.rrsig.data.type === "RRSIG" && made.rrsig.data.signature.length, 64);
  });
});

describe("typeBitmap", () => {
  it("writes one window per 256 types, as long as its highest type needs (RFC 4034 4.1.2)", () => {
    // A(1) MX(15) RRSIG(46) NSEC(47) NXNAME(128); CAA(257) in window 1.
    assert.equal(
      typeBitmap([1, 15, 46, 47, 128, 257]).toString("hex"),
      "0011" + "4001000000030000000000000000000080" + "010140",
    );
  });
});
