import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Responder } from "../answer/responder.js";
import { exampleZone, header, query } from "../testing/test-fixtures.js";
import { parseQuery } from "../wire/query-parser.js";
import { DynamicRecords, type WatchedEntry } from "./dynamic-records.js";
import { recordKey, zoneOfKey } from "./record-codec.js";
import { Zone } from "./zone.js";
import { parseZoneFile } from "./zone-file.js";
import { ZoneSet } from "./zone-set.js";

const statics = () =>
  new ZoneSet([
    new Zone(
      "example.test",
      parseZoneFile(exampleZone, { file: "t", origin: "example.test", defaultTtl: 300 }),
    ),
  ]);

const put = (key: string, revision: number, value: unknown): WatchedEntry => ({
  key,
  revision,
  operation: "PUT",
  value: Buffer.from(JSON.stringify(value)),
});
const del = (key: string, revision: number): WatchedEntry => ({
  key,
  revision,
  operation: "DEL",
  value: new Uint8Array(),
});
const acme = (name: string, value: string) => ({ name, value, expiresAt: Date.now() + 60_000 });

describe("dynamic records over the static zones", () => {
  it("adds API records and ACME TXT values, and bumps the serial by the revisions", () => {
    const d = new DynamicRecords();
    assert.equal(
      d.apply(
        "records",
        put("example.test.aa", 4, { name: "new.example.test", type: "A", ttl: 60, value: "192.0.2.7" }),
      ),
      undefined,
    );
    d.apply("acme", put("dns01.x", 9, acme("_acme-challenge.www.example.test", "tok1")));
    d.apply("acme", put("dns01.y", 10, acme("_acme-challenge.www.example.test", "tok2")));
    const o = d.overlay(statics());
    const zone = o.zones.get("example.test");
    assert.ok(zone);
    assert.equal(zone.soa.data.serial, 2024010101 + 10 + 4);
    assert.equal(zone.rrset("new.example.test", "A")?.[0]?.ttl, 60);
    const txt = zone.rrset("_acme-challenge.www.example.test", "TXT") ?? [];
    assert.deepEqual(
      txt.map((r) => (r.data.type === "TXT" ? r.data.strings.join("") : "")),
      ["tok1", "tok2"],
    );
    assert.equal(txt[0]?.ttl, 10);
    assert.equal(o.sources.get(txt[0] as never), "acme");
  });

  it("gives the same serial to replicas that applied the same entries in any order, and a new one after a delete", () => {
    const a = new DynamicRecords();
    const b = new DynamicRecords();
    const entries = [
      put("example.test.k1", 3, { name: "a.example.test", type: "TXT", ttl: 5, value: '"x"' }),
      put("dns01.z", 7, acme("_acme-challenge.example.test", "v")),
    ];
    for (const e of entries) a.apply(e.key.startsWith("dns01") ? "acme" : "records", e);
    for (const e of [...entries].reverse()) b.apply(e.key.startsWith("dns01") ? "acme" : "records", e);
    const serialOf = (d: DynamicRecords) => d.overlay(statics()).zones.get("example.test")?.soa.data.serial;
    assert.equal(serialOf(a), serialOf(b));
    const before = serialOf(a) ?? 0;
    a.apply("acme", del("dns01.z", 8));
    const after = serialOf(a) ?? 0;
    assert.ok(after > before, `${after} > ${before}`);
    assert.equal(
      a.overlay(statics()).zones.get("example.test")?.rrset("_acme-challenge.example.test", "TXT"),
      undefined,
    );
  });

  it("skips records that would break the zone and ACME names outside the zones", () => {
    const d = new DynamicRecords();
    d.apply(
      "records",
      put("example.test.c", 2, { name: "www.example.test", type: "A", ttl: 60, value: "192.0.2.9" }),
    );
    d.apply("acme", put("dns01.o", 3, acme("_acme-challenge.example.org", "v")));
    assert.match(
      d.apply("acme", put("dns01.b", 4, { name: "www.example.test", value: "v" })) ?? "",
      /_acme-challenge/,
    );
    const o = d.overlay(statics());
    assert.equal(o.zones.get("example.test")?.rrset("www.example.test", "A"), undefined);
    assert.deepEqual(
      o.skipped.map((s) => s.key),
      ["dns01.o", "example.test.c"],
    );
  });

  it("re-encodes only the zone that changed", () => {
    const other = new Zone("other.test", [
      {
        name: "other.test",
        ttl: 60,
        data: {
          type: "SOA",
          mname: "ns.other.test",
          rname: "h.other.test",
          serial: 1,
          refresh: 1,
          retry: 1,
          expire: 1,
          minimum: 1,
        },
      },
      { name: "www.other.test", ttl: 60, data: { type: "A", address: "192.0.2.1" } },
    ]);
    const base = new ZoneSet([...statics().zones, other]);
    const d = new DynamicRecords();
    const first = d.overlay(base);
    const r1 = new Responder(first.zones);
    d.apply(
      "records",
      put("example.test.n", 5, { name: "n.example.test", type: "A", ttl: 60, value: "192.0.2.5" }),
    );
    const second = d.overlay(base, first);
    assert.equal(second.zones.get("other.test"), first.zones.get("other.test"));
    assert.notEqual(second.fingerprints.get("example.test"), first.fingerprints.get("example.test"));
    const r2 = new Responder(second.zones, undefined, { from: r1, unchanged: new Set(["other.test"]) });
    const answer = r2.respond(query("n.example.test", 1), true)?.bytes as Buffer;
    assert.equal(header(answer).an, 1);
    assert.equal(header(r2.respond(query("www.other.test", 1), true)?.bytes as Buffer).an, 1);
    const q = parseQuery(query("www.other.test", 1));
    assert.equal(q.kind, "query");
  });

  it("keys name their zone so a delete marker can be attributed", () => {
    const key = recordKey("example.test", {
      name: "a.example.test",
      ttl: 1,
      data: { type: "A", address: "192.0.2.1" },
    });
    assert.match(key, /^example\.test\.[0-9a-f]{32}$/);
    assert.equal(zoneOfKey(key), "example.test");
    const odd = recordKey("ex\\032ample.test", {
      name: "ex\\032ample.test",
      ttl: 1,
      data: { type: "A", address: "192.0.2.1" },
    });
    assert.match(odd, /^=[0-9a-f]+\.[0-9a-f]{32}$/);
    assert.equal(zoneOfKey(odd), "ex\\032ample.test");
  });
});
