import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { parseQuery } from "./query-parser.js";
import { query } from "./test-fixtures.js";

const reason = (msg: Buffer) => {
  const r = parseQuery(msg);
  return r.kind === "query" ? "query" : `${r.kind}: ${r.reason}`;
};

describe("parseQuery", () => {
  it("reads the question, lowercases the name and key, and reads EDNS", () => {
    const r = parseQuery(query("WWW.Example.Test", 28, { udpSize: 4096 }));
    assert.ok(r.kind === "query");
    assert.equal(r.query.qname, "www.example.test");
    assert.equal(r.query.qtype, 28);
    assert.deepEqual(r.query.edns, { udpSize: 4096, version: 0, dnssecOk: false });
    assert.equal(r.query.key, "\x03www\x07example\x04test\x00\x00\x1c");
  });

  it("drops packets without a readable header, and responses", () => {
    assert.equal(reason(Buffer.alloc(0)), "drop: short header");
    assert.equal(reason(Buffer.alloc(11)), "drop: short header");
  });

  it("refuses truncated questions, pointers in the question, long names and lying counts", () => {
    const good = query("www.example.test", 1);
    assert.match(reason(good.subarray(0, 20)), /^error: .*past the end/);
    assert.match(reason(good.subarray(0, good.length - 1)), /^error: question runs past the end/);
    const pointer = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    assert.match(reason(pointer), /compressed/);
    const long = query(Array.from({ length: 5 }, () => "a".repeat(60)).join("."), 1);
    assert.match(reason(long), /over 255/);
    const lying = Buffer.from(good);
    lying.writeUInt16BE(3, 10);
    assert.match(reason(lying), /^error: (bad name|.*past the end)/);
    const many = Buffer.from(good);
    many.writeUInt16BE(0xffff, 6);
    assert.match(reason(many), /too many records/);
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    assert.match(reason(trailing), /bytes after/);
  });

  it("refuses compression loops and forward pointers in other sections", () => {
    const good = query("www.example.test", 1);
    const rr = (name: Buffer) => {
      const m = Buffer.concat([good, name, Buffer.from([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
      m.writeUInt16BE(1, 6);
      return m;
    };
    const at = good.length;
    const self = Buffer.from([0xc0 | (at >> 8), at & 0xff]);
    assert.match(reason(rr(self)), /bad name/);
    assert.match(reason(rr(Buffer.from([0xc0, 0xff]))), /bad name/);
    assert.equal(reason(rr(Buffer.from([0xc0, 0x0c]))), "query", "a backward pointer is fine");
    const ext = rr(Buffer.from([0x41, 0]));
    assert.match(reason(ext), /bad name/);
  });

  it("never throws on random or mutated input", () => {
    const base = query("www.example.test", 1, { udpSize: 1232 });
    for (let i = 0; i < 20_000; i++) {
      let msg: Buffer;
      if (i % 2 === 0) msg = randomBytes(i % 80);
      else {
        msg = Buffer.from(base.subarray(0, 1 + (i % (base.length + 5))));
        for (let f = 0; f < 3; f++) {
          const p = (i * 7 + f * 13) % msg.length;
          msg[p] = (msg[p] as number) ^ (1 << ((i + f) % 8));
        }
      }
      parseQuery(msg);
    }
  });
});
