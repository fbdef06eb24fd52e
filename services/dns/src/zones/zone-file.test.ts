import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ZoneFileError } from "../errors.js";
import { exampleZone } from "../testing/test-fixtures.js";
import { rdataText } from "../wire/records.js";
import { parseZoneFile } from "./zone-file.js";

const parse = (text: string) =>
  parseZoneFile(text, { file: "z.db", origin: "example.test", defaultTtl: 3600 });
const errorOf = (text: string): ZoneFileError => {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ZoneFileError, String(err));
    return err;
  }
  assert.fail("zone file was accepted");
};
const soa = "@ IN SOA ns1 hostmaster 1 2 3 4 5\n";

describe("parseZoneFile", () => {
  it("reads $ORIGIN, $TTL, @, relative and omitted owners, and a multi-line SOA with comments", () => {
    const records = parse(exampleZone);
    const apex = records.filter((r) => r.name === "example.test");
    assert.deepEqual(
      apex.map((r) => r.data.type),
      ["SOA", "NS", "MX", "A"],
    );
    assert.equal(
      rdataText(apex[0]?.data ?? { type: "A", address: "" }),
      "ns1.example.test. hostmaster.example.test. 2024010101 3600 900 604800 60",
    );
    const mail = records.filter((r) => r.name === "mail.example.test");
    assert.deepEqual(
      mail.map((r) => [r.data.type, r.ttl]),
      [
        ["A", 600],
        ["AAAA", 300],
      ],
    );
    assert.ok(records.some((r) => r.name === "*.wild.example.test"));
    assert.ok(records.some((r) => r.name === "_sip._tcp.example.test" && r.data.type === "SRV"));
  });

  it("reads several quoted TXT strings with escapes and splits long values into 255-octet strings", () => {
    const long = "x".repeat(600);
    const records = parse(`${soa}t TXT "a b" "say \\"hi\\"" \\065bc\nl TXT "${long}"\n`);
    const t = records.find((r) => r.name === "t.example.test")?.data;
    assert.ok(t?.type === "TXT");
    assert.deepEqual(
      t.strings.map((s) => s.toString()),
      ["a b", 'say "hi"', "Abc"],
    );
    const l = records.find((r) => r.name === "l.example.test")?.data;
    assert.ok(l?.type === "TXT");
    assert.deepEqual(
      l.strings.map((s) => s.length),
      [255, 255, 90],
    );
  });

  it("reads absolute names, TTL units, class before TTL, and a later $ORIGIN", () => {
    const records = parse(
      `${soa}a.other.test. IN 1h A 192.0.2.1\n$ORIGIN sub.example.test.\nb 2d IN AAAA 2001:DB8::1\nc CAA 0 issuewild ";"\n`,
    );
    assert.deepEqual(
      records.slice(1).map((r) => [r.name, r.ttl, rdataText(r.data)]),
      [
        ["a.other.test", 3600, "192.0.2.1"],
        ["b.sub.example.test", 172800, "2001:db8::1"],
        ["c.sub.example.test", 172800, '0 issuewild ";"'],
      ],
    );
  });

  it("names the file and line of each kind of error", () => {
    assert.equal(
      errorOf(`${soa}www IN A 999.1.1.1\n`).message,
      'z.db:2: A: "999.1.1.1" is not an IPv4 address',
    );
    assert.equal(errorOf(`${soa}\n\nwww IN BOGUS x\n`).line, 4);
    assert.equal(
      errorOf(`${soa}mx MX ten mail\n`).message,
      'z.db:2: MX: preference: "ten" is not a number from 0 to 65535',
    );
    assert.equal(errorOf(`@ SOA ns1 host ( 1 2 3\n 4 5\n`).message, "z.db:1: '(' never closed");
    assert.equal(errorOf(`${soa}t TXT "open\n`).line, 2);
    assert.equal(errorOf(`$TTL soon\n`).message, 'z.db:1: $TTL: "soon" is not a TTL');
    assert.equal(errorOf(`$INCLUDE other.db\n`).line, 1);
    assert.equal(errorOf(` IN A 192.0.2.1\n`).message, "z.db:1: no owner name and no previous record");
    assert.equal(errorOf(`${soa}s SRV 1 2 port x\n`).line, 2);
    assert.equal(errorOf(`${soa}c CH TXT "x"\n`).line, 2);
    assert.equal(errorOf(`${soa})\n`).line, 2);
  });
});
