import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { describe, it } from "node:test";
import { encrypt } from "@switchyard/certstore";
import { ZoneSigner } from "./signatures.js";
import { ZoneKey } from "./zone-key.js";
import { openKeySet, parseStoredKeySet, storeKey, storeNewKeySet, ZoneKeySet } from "./zone-key-set.js";

const kvKey = Buffer.alloc(32, 7);
const NAME = "ecdsap256sha256.z.test";

describe("ZoneKeySet", () => {
  it("reads the one-key entry of before rollover as one active key", () => {
    const key = ZoneKey.generate("z.test", "ecdsap256sha256");
    const v1 = {
      algorithm: "ecdsap256sha256",
      created: "2026-12-01T00:00:00.000Z",
      key: encrypt(key.exportPkcs8(), kvKey, NAME),
    };
    const stored = parseStoredKeySet(JSON.parse(JSON.stringify(v1)));
    const set = openKeySet(stored, "z.test", NAME, kvKey, 4);
    assert.equal(set.entries.length, 1);
    assert.equal(set.active.keyTag, key.keyTag);
    assert.deepEqual([set.entries[0]?.state, set.entries[0]?.since, set.revision], ["active", v1.created, 4]);
    assert.throws(() => parseStoredKeySet({ something: "else" }), /not a dns-keys entry/);
  });

  it("publishes every key in DNSKEY and the incoming one in CDS/CDNSKEY; the DNSKEY RRset is signed by all", () => {
    const old = ZoneKey.generate("z.test", "ecdsap256sha256");
    const next = ZoneKey.generate("z.test", "ecdsap256sha256");
    const stored = storeNewKeySet(old, NAME, kvKey, Date.now());
    stored.keys.push(storeKey(next, NAME, kvKey, Date.now(), "published"));
    const set = openKeySet(stored, "z.test", NAME, kvKey, 2);
    assert.equal(set.active.keyTag, old.keyTag);
    assert.equal(set.successor.keyTag, next.keyTag);
    const apex = set.apexRecords(3600);
    const dnskeys = apex.filter((r) => r.data.type === "DNSKEY");
    assert.equal(dnskeys.length, 2);
    const cds = apex.find((r) => r.data.type === "CDS");
    assert.ok(cds?.data.type === "CDS" && cds.data.keyTag === next.keyTag);
    const cdnskey = apex.find((r) => r.data.type === "CDNSKEY");
    assert.ok(cdnskey?.data.type === "CDNSKEY" && cdnskey.data.publicKey.equals(next.dnskey.publicKey));

    const signer = new ZoneSigner(set);
    const overKeys = signer.sign(dnskeys);
    assert.deepEqual(
      overKeys.rrsigs.map((r) => (r.data.type === "RRSIG" ? r.data.keyTag : 0)).sort(),
      [old.keyTag, next.keyTag].sort(),
    );
    const overA = signer.sign([{ name: "www.z.test", ttl: 60, data: { type: "A", address: "192.0.2.1" } }]);
    assert.deepEqual(
      overA.rrsigs.map((r) => (r.data.type === "RRSIG" ? r.data.keyTag : 0)),
      [old.keyTag],
    );
  });

  it("after finish the new key signs answers and the old one only the DNSKEY RRset", () => {
    const old = ZoneKey.generate("z.test", "ed25519");
    const next = ZoneKey.generate("z.test", "ed25519");
    const set = new ZoneKeySet("z.test", "ed25519", [
      { key: old, state: "retired", since: "", created: "" },
      { key: next, state: "active", since: "", created: "" },
    ]);
    assert.equal(set.successor, next);
    const signer = new ZoneSigner(set);
    const a = signer.sign([{ name: "z.test", ttl: 60, data: { type: "A", address: "192.0.2.1" } }]);
    assert.equal(a.rrsigs.length, 1);
    assert.ok(a.rrsigs[0]?.data.type === "RRSIG" && a.rrsigs[0].data.keyTag === next.keyTag);
    assert.equal(signer.sign(set.apexRecords(3600).filter((r) => r.data.type === "DNSKEY")).rrsigs.length, 2);
    assert.throws(
      () => new ZoneKeySet("z.test", "ed25519", [{ key: old, state: "retired", since: "", created: "" }]),
      /no active key/,
    );
    // The key is a real Ed25519 key: what it signs verifies with its public half.
    const data = Buffer.from("x");
    assert.ok(
      verify(
        null,
        data,
        createPublicKey({
          key: { kty: "OKP", crv: "Ed25519", x: next.dnskey.publicKey.toString("base64url") },
          format: "jwk",
        }),
        next.sign(data),
      ),
    );
  });
});
