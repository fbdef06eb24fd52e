import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../load-config.js";
import { problems } from "../testing/config-problems.js";

describe("dns section", () => {
  it("accepts zones from files and inline records with structured values", () => {
    const config = parseConfig(
      [
        "dns:",
        "  ports: [10053]",
        "  zones:",
        "    - { origin: example.com, file: zones/example.com.zone }",
        "    - origin: example.net",
        "      soa: { mname: ns1, rname: hostmaster }",
        "      records:",
        "        - { name: www, type: A, ttl: 60, value: 192.0.2.1 }",
        "        - { type: MX, value: { preference: 10, exchange: mail } }",
        '        - { name: _sip._tcp, type: SRV, value: "10 5 5060 sip" }',
        "        - { type: CAA, value: { tag: issue, value: letsencrypt.org } }",
        "        - { type: TXT, value: [a, b] }",
      ].join("\n"),
      "test.yaml",
    );
    const zones = config.dns?.zones ?? [];
    assert.equal(zones.length, 2);
    assert.equal(zones[1]?.soa?.minimum, 300);
    assert.equal(zones[1]?.records[0]?.name, "www");
    assert.equal(zones[1]?.records[1]?.name, "@");
    assert.deepEqual(config.dns?.ports, [10053]);
  });

  it("takes dnssec per zone (ecdsap256sha256 by default, or ed25519) and refuses other algorithms", () => {
    const zones = (algorithm: string) =>
      parseConfig(
        `dns:\n  zones:\n    - { origin: a.test, dnssec: ${algorithm} }\n    - { origin: b.test }\n`,
        "test.yaml",
      ).dns?.zones ?? [];
    assert.deepEqual(zones("{}")[0]?.dnssec, { algorithm: "ecdsap256sha256" });
    assert.deepEqual(zones("{ algorithm: ed25519 }")[0]?.dnssec, { algorithm: "ed25519" });
    assert.equal(zones("{}")[1]?.dnssec, undefined);
    assert.match(
      problems("dns:\n  zones: [{ origin: a.test, dnssec: { algorithm: rsasha1 } }]\n").join("\n"),
      /dns\.zones\[0\]\.dnssec\.algorithm/,
    );
  });

  it("names the path and the bad value", () => {
    const text = [
      "dns:",
      "  zones:",
      "    - origin: example.com",
      "      records:",
      "        - { name: www, type: A, value: 192.0.2.300 }",
    ].join("\n");
    assert.deepEqual(problems(text), [
      'test.yaml:5:40 dns.zones[0].records[0].value: "192.0.2.300" is not an IPv4 address',
    ]);
    const mx = [
      "dns:",
      "  zones:",
      "    - origin: example.com",
      "      records:",
      "        - { type: MX, value: { preference: 70000, exchange: mail } }",
    ].join("\n");
    assert.match(problems(mx).join("\n"), /dns\.zones\[0\]\.records\[0\]\.value/);
  });

  it("refuses unknown keys, unknown types, bad names and an origin served twice", () => {
    assert.match(problems("dns:\n  zone: []\n").join("\n"), /dns.*zone/);
    assert.match(
      problems("dns:\n  zones: [{ origin: a.test, records: [{ type: HINFO, value: x }] }]\n").join("\n"),
      /dns\.zones\[0\]\.records\[0\]\.type/,
    );
    assert.match(
      problems("dns:\n  zones: [{ origin: 'bad name' }]\n").join("\n"),
      /dns\.zones\[0\]\.origin: "bad name" is not a DNS name/,
    );
    assert.match(
      problems("dns:\n  zones: [{ origin: a.test }, { origin: A.test. }]\n").join("\n"),
      /dns\.zones\[1\]\.origin: "A\.test\." is served twice/,
    );
  });
});
