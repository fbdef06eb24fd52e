import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fuzzRandom, mutatePrefix } from "@switchyard/testkit";
import { query } from "../testing/test-fixtures.js";
import { parseQuery, Rcode } from "./query-parser.js";

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

  it("gives a well-formed answer for random and mutated input, and re-reads what it accepts", (t) => {
    const random = fuzzRandom(t);
    const seeds = [
      query("www.example.test", 1, { udpSize: 1232 }),
      query("MiXeD.Case.Example", 28),
      query("a.b", 255, { id: 7, udpSize: 512, version: 1 }),
    ];
    const kinds = new Map<string, number>();
    const asciiLower = (b: Buffer) =>
      [...b].map((c) => String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c)).join("");
    for (let i = 0; i < 20_000; i++) {
      const msg =
        i % 4 === 0
          ? random.bytes(random.int(80))
          : Buffer.concat([
              mutatePrefix(random, seeds[i % seeds.length] as Buffer),
              random.bytes(random.int(2)),
            ]);
      const r = parseQuery(msg);
      const at = `input ${msg.toString("hex")} (seed ${random.seed})`;
      kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
      if (r.kind === "drop") {
        assert.ok(msg.length < 12 || (msg.readUInt16BE(2) & 0x8000) !== 0, at);
        continue;
      }
      if (r.kind === "error") {
        assert.equal(r.id, msg.readUInt16BE(0), at);
        assert.equal(r.flags, msg.readUInt16BE(2), at);
        const opcode = (r.flags >> 11) & 0xf;
        assert.equal(r.rcode, opcode === 0 ? Rcode.FORMERR : Rcode.NOTIMP, at);
        assert.ok(r.reason.length > 0, at);
        continue;
      }
      const q = r.query;
      assert.equal(q.id, msg.readUInt16BE(0), at);
      assert.equal(q.questionEnd, q.qnameEnd + 4, at);
      assert.ok(q.questionEnd <= msg.length, at);
      assert.equal(q.qtype, msg.readUInt16BE(q.qnameEnd), at);
      // The name folded to lowercase ASCII, the qtype bytes exactly as sent.
      assert.equal(
        q.key,
        asciiLower(msg.subarray(12, q.qnameEnd)) + msg.toString("latin1", q.qnameEnd, q.qnameEnd + 2),
        at,
      );
      // A plain name written back as a query reads back to the same key.
      if (/^([a-z0-9_-]+(\.[a-z0-9_-]+)*)?$/.test(q.qname)) {
        const again = parseQuery(query(q.qname, q.qtype));
        assert.equal(again.kind === "query" && again.query.key, q.key, at);
      }
    }
    for (const kind of ["query", "error", "drop"])
      assert.ok((kinds.get(kind) ?? 0) > 100, `${kind}: ${JSON.stringify([...kinds])}`);
  });
});
