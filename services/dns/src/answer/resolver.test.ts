import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exampleZone } from "../testing/test-fixtures.js";
import { Rcode } from "../wire/query-parser.js";
import { rdataText } from "../wire/records.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { type Answer, resolve } from "./resolver.js";

const zones = new ZoneSet([
  new Zone(
    "example.test",
    parseZoneFile(exampleZone, { file: "z", origin: "example.test", defaultTtl: 3600 }),
  ),
]);
const show = (rrs: Answer["answer"]) =>
  rrs.map((r) => `${r.name} ${r.ttl} ${r.data.type} ${rdataText(r.data)}`);

describe("resolve", () => {
  it("answers data authoritatively, with in-zone MX targets in additional", () => {
    const a = resolve(zones, "example.test", "MX");
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.ok(a.authoritative);
    assert.deepEqual(show(a.answer), ["example.test 300 MX 10 mail.example.test."]);
    assert.deepEqual(show(a.additional), [
      "mail.example.test 600 A 192.0.2.25",
      "mail.example.test 300 AAAA 2001:db8::25",
    ]);
  });

  it("adds SRV and NS targets in zone to additional", () => {
    assert.deepEqual(show(resolve(zones, "_sip._tcp.example.test", "SRV").additional), [
      "sip.example.test 300 A 192.0.2.60",
    ]);
    assert.deepEqual(show(resolve(zones, "example.test", "NS").additional), [
      "ns1.example.test 300 A 192.0.2.53",
    ]);
  });

  it("answers NXDOMAIN with the SOA, its TTL the lower of SOA TTL and minimum", () => {
    const a = resolve(zones, "nope.example.test", "A");
    assert.equal(a.rcode, Rcode.NXDOMAIN);
    assert.ok(a.authoritative);
    assert.deepEqual(show(a.authority), [
      "example.test 60 SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 60",
    ]);
  });

  it("answers NODATA for an existing name without the type, and for an empty non-terminal", () => {
    for (const [name, type] of [
      ["mail.example.test", "MX"],
      ["web.example.test", "AAAA"],
      ["c.example.test", "A"],
      ["b.c.example.test", "TXT"],
    ] as const) {
      const a = resolve(zones, name, type);
      assert.equal(a.rcode, Rcode.NOERROR, name);
      assert.equal(a.answer.length, 0);
      assert.equal(a.authority[0]?.data.type, "SOA");
    }
  });

  it("refuses names in no served zone", () => {
    const a = resolve(zones, "example.org", "A");
    assert.equal(a.rcode, Rcode.REFUSED);
    assert.equal(a.authoritative, false);
  });

  it("synthesizes from a wildcard with the query name as owner, but not for names that exist", () => {
    assert.deepEqual(show(resolve(zones, "x.wild.example.test", "A").answer), [
      "x.wild.example.test 300 A 192.0.2.99",
    ]);
    assert.deepEqual(show(resolve(zones, "a.b.wild.example.test", "TXT").answer), [
      'a.b.wild.example.test 300 TXT "wild"',
    ]);
    const exists = resolve(zones, "exists.wild.example.test", "A");
    assert.equal(exists.answer.length, 0, "the name exists: NODATA, no wildcard");
    assert.equal(exists.rcode, Rcode.NOERROR);
    assert.equal(resolve(zones, "x.wild.example.test", "MX").answer.length, 0);
    // The closest encloser of x.c.example.test is c.example.test (an empty non-terminal): no *.c → NXDOMAIN.
    assert.equal(resolve(zones, "x.c.example.test", "A").rcode, Rcode.NXDOMAIN);
  });

  it("follows CNAME chains inside the zone and stops on loops and dangling targets", () => {
    assert.deepEqual(show(resolve(zones, "chain1.example.test", "A").answer), [
      "chain1.example.test 300 CNAME chain2.example.test.",
      "chain2.example.test 300 CNAME www.example.test.",
      "www.example.test 300 CNAME web.example.test.",
      "web.example.test 300 A 192.0.2.80",
    ]);
    assert.equal(resolve(zones, "www.example.test", "CNAME").answer.length, 1);
    assert.equal(resolve(zones, "loop1.example.test", "A").answer.length, 2);
    const dangling = resolve(zones, "dangling.example.test", "A");
    assert.equal(dangling.rcode, Rcode.NXDOMAIN, "RFC 6604: the rcode of the last name");
    assert.equal(dangling.answer.length, 1);
  });

  it("refers below a zone cut without AA, with glue", () => {
    for (const name of ["sub.example.test", "deep.sub.example.test"]) {
      const a = resolve(zones, name, "A");
      assert.equal(a.authoritative, false);
      assert.equal(a.answer.length, 0);
      assert.deepEqual(show(a.authority), ["sub.example.test 300 NS ns.sub.example.test."]);
      assert.deepEqual(show(a.additional), ["ns.sub.example.test 300 A 192.0.2.153"]);
    }
  });

  it("serves CAA and PTR", () => {
    assert.deepEqual(show(resolve(zones, "caa.example.test", "CAA").answer), [
      'caa.example.test 300 CAA 0 issue "letsencrypt.org"',
    ]);
    assert.deepEqual(show(resolve(zones, "4.2.0.192.in-addr.example.test", "PTR").answer), [
      "4.2.0.192.in-addr.example.test 300 PTR web.example.test.",
    ]);
  });

  it("answers DS at a zone cut from the parent side (NODATA, AA), and below the cut with a referral", () => {
    const ds = resolve(zones, "sub.example.test", undefined, { parentSide: true });
    assert.equal(ds.rcode, Rcode.NOERROR);
    assert.ok(ds.authoritative);
    assert.deepEqual(
      ds.authority.map((r) => r.data.type),
      ["SOA"],
    );
    const below = resolve(zones, "x.sub.example.test", undefined, { parentSide: true });
    assert.equal(below.authoritative, false);
    assert.deepEqual(
      below.authority.map((r) => r.data.type),
      ["NS"],
    );
  });

  it("follows a CNAME into a delegation with the referral after the CNAME, still authoritative", () => {
    const z = new ZoneSet([
      new Zone(
        "example.test",
        parseZoneFile(`${exampleZone}to-sub IN CNAME host.sub\n`, {
          file: "z",
          origin: "example.test",
          defaultTtl: 3600,
        }),
      ),
    ]);
    const a = resolve(z, "to-sub.example.test", "A");
    assert.ok(a.authoritative);
    assert.deepEqual(show(a.answer), ["to-sub.example.test 300 CNAME host.sub.example.test."]);
    assert.deepEqual(show(a.authority), ["sub.example.test 300 NS ns.sub.example.test."]);
    assert.deepEqual(show(a.additional), ["ns.sub.example.test 300 A 192.0.2.153"]);
    assert.deepEqual([...(a.requiredGlue ?? [])], ["ns.sub.example.test"]);
  });
});
