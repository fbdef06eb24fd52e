import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WireWriter } from "../wire/wire-writer.js";
import { dsQuery, dsRecords, parseServer } from "./parent-ds.js";
import { ZoneKey } from "./zone-key.js";

/** A response to `query` with `records` in the answer section (names compressed), rcode `rcode`. */
function response(query: Buffer, records: Parameters<WireWriter["record"]>[0][], rcode = 0): Buffer {
  const w = new WireWriter();
  w.u16(query.readUInt16BE(0));
  w.u16(0x8500 | rcode);
  w.u16(1);
  w.u16(records.length);
  w.u16(0);
  w.u16(0);
  w.name("roll.test");
  w.u16(43);
  w.u16(1);
  for (const r of records) w.record(r);
  return w.bytes();
}

describe("the parent's DS", () => {
  it("asks DS IN for the zone with RD set", () => {
    const q = dsQuery("roll.test", 0x1234);
    assert.equal(q.toString("hex"), `123401000001000000000000${"04726f6c6c0474657374"}00002b0001`);
  });

  it("reads the DS records of the answer, compressed owner names and all", () => {
    const key = ZoneKey.generate("roll.test", "ecdsap256sha256");
    const ds = key.ds();
    const q = dsQuery("roll.test");
    const other = { ...ds, keyTag: (ds.keyTag + 1) & 0xffff };
    const got = dsRecords(
      response(q, [
        { name: "roll.test", ttl: 3600, data: ds },
        { name: "roll.test", ttl: 3600, data: other },
        { name: "roll.test", ttl: 3600, data: { type: "TXT", strings: [Buffer.from("not a DS")] } },
      ]),
    );
    assert.deepEqual(
      got.map((d) => [d.keyTag, d.algorithm, d.digestType, d.digest.toString("hex")]),
      [
        [ds.keyTag, 13, 2, ds.digest.toString("hex")],
        [other.keyTag, 13, 2, ds.digest.toString("hex")],
      ],
    );
    assert.deepEqual(dsRecords(response(q, [])), []);
    assert.throws(() => dsRecords(response(q, [], 3)), /answered NXDOMAIN/);
    assert.throws(
      () => dsRecords(response(q, [{ name: "roll.test", ttl: 1, data: ds }]).subarray(0, 40)),
      /cut short/,
    );
  });

  it("takes host, host:port and [v6]:port", () => {
    assert.deepEqual(parseServer("192.0.2.1"), { host: "192.0.2.1", port: 53 });
    assert.deepEqual(parseServer("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
    assert.deepEqual(parseServer("[::1]:5300"), { host: "::1", port: 5300 });
    assert.throws(() => parseServer("127.0.0.1:99999"), /is not a server/);
  });
});
