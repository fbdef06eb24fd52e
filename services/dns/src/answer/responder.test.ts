import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "dns-packet";
import { exampleZone, header, query } from "../testing/test-fixtures.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { Responder, slip } from "./responder.js";

const bigTxt = Array.from({ length: 12 }, (_, i) => `big TXT "${String(i).repeat(200)}"`).join("\n");
const midTxt = Array.from({ length: 3 }, (_, i) => `mid TXT "${String(i).repeat(200)}"`).join("\n");
const zones = new ZoneSet([
  new Zone(
    "example.test",
    parseZoneFile(`${exampleZone}${bigTxt}\n${midTxt}\n`, {
      file: "z",
      origin: "example.test",
      defaultTtl: 3600,
    }),
  ),
]);
const responder = new Responder(zones);
const A = 1;
const TXT = 16;

describe("Responder", () => {
  it("returns the answer class with the bytes, and slips that answer without parsing the query again", () => {
    const msg = query("www.example.test", A, { id: 9, udpSize: 1232 });
    const answered = responder.respond(msg, true);
    assert.ok(answered);
    assert.equal(answered.answerClass, "answer www.example.test 1");
    assert.equal(header(answered.bytes).an, 2, "the CNAME and its target");
    const nx = responder.respond(query("nope.example.test", A), true);
    assert.equal(nx?.answerClass, "nxdomain example.test");
    const bad = Buffer.from(msg);
    bad.writeUInt16BE(2, 4);
    assert.equal(responder.respond(bad, true)?.answerClass, "error");
    // The slip of the answer just given: header, question and OPT, TC set, the client's ID.
    const cut = header(slip(msg, answered));
    assert.deepEqual(
      { id: cut.id, tc: cut.tc, qd: cut.qd, an: cut.an, ns: cut.ns, ar: cut.ar },
      { id: 9, tc: true, qd: 1, an: 0, ns: 0, ar: 1 },
    );
  });

  it("keys answers by the exact qtype: type 65 (0x0041, 'A') and type 97 (0x0061, 'a') never share one", () => {
    // Found by the query-parser fuzzer: the key lowercased the qtype bytes with the name, so the
    // cached answer for one type was served to a query for the other.
    const r = new Responder(zones);
    const first = r.respond(query("www.example.test", 65, { id: 1 }), true)?.bytes as Buffer;
    const second = r.respond(query("www.example.test", 97, { id: 2 }), true)?.bytes as Buffer;
    const qtype = (m: Buffer) => m.readUInt16BE(m.indexOf(0, 12) + 1);
    assert.equal(qtype(first), 65);
    assert.equal(qtype(second), 97, "the answer's question is type 97, not the cached type 65");
  });

  it("answers from pre-encoded bytes with the ID patched and the question echoed in the case sent", () => {
    assert.ok(responder.prebuiltCount > 20);
    const q = query("WwW.ExAmple.TEST", A, { id: 0xbeef });
    const out = responder.respond(q, true)?.bytes as Buffer;
    assert.deepEqual(header(out), {
      id: 0xbeef,
      qr: true,
      aa: true,
      tc: false,
      rd: true,
      rcode: 0,
      qd: 1,
      an: 2,
      ns: 0,
      ar: 0,
    });
    assert.equal(out.toString("latin1", 13, 16), "WwW");
    assert.equal(out.toString("latin1", 17, 24), "ExAmple");
    const again = responder.respond(query("www.example.test", A, { id: 7, rd: false }), true)
      ?.bytes as Buffer;
    assert.equal(header(again).id, 7);
    assert.equal(header(again).rd, false);
    assert.equal(again.toString("latin1", 13, 16), "www");
  });

  it("sets NXDOMAIN and REFUSED (no AA) and echoes OPT when the query had one", () => {
    const nx = responder.respond(query("nope.example.test", A, { udpSize: 1232 }), true)?.bytes as Buffer;
    assert.deepEqual(header(nx), {
      id: 0x1234,
      qr: true,
      aa: true,
      tc: false,
      rd: true,
      rcode: 3,
      qd: 1,
      an: 0,
      ns: 1,
      ar: 1,
    });
    assert.equal(nx.readUInt16BE(nx.length - 11 + 1), 41, "OPT last");
    assert.equal(nx.readUInt16BE(nx.length - 11 + 3), 1232);
    const refused = header(responder.respond(query("example.org", A), true)?.bytes as Buffer);
    assert.equal(refused.rcode, 5);
    assert.equal(refused.aa, false);
  });

  it("answers BADVERS for EDNS versions other than 0", () => {
    const out = responder.respond(query("www.example.test", A, { udpSize: 1232, version: 1 }), true)
      ?.bytes as Buffer;
    assert.equal(header(out).rcode, 0);
    assert.equal(header(out).an, 0);
    assert.equal(out[out.length - 11 + 5], 1, "extended rcode 16 → upper bits 1");
  });

  it("truncates with TC (question and OPT kept) past the client's UDP size, and sends it whole over TCP", () => {
    const noEdns = responder.respond(query("big.example.test", TXT), true)?.bytes as Buffer;
    assert.ok(noEdns.length <= 512);
    assert.deepEqual(header(noEdns), {
      id: 0x1234,
      qr: true,
      aa: true,
      tc: true,
      rd: true,
      rcode: 0,
      qd: 1,
      an: 0,
      ns: 0,
      ar: 0,
    });
    const small = responder.respond(query("big.example.test", TXT, { udpSize: 100 }), true)?.bytes as Buffer;
    assert.ok(header(small).tc, "floor 512 still too small");
    assert.equal(header(small).ar, 1);
    const large = responder.respond(query("big.example.test", TXT, { udpSize: 4096 }), true)?.bytes as Buffer;
    assert.ok(header(large).tc, "capped at our 1232 octets whatever the client offers (as Knot, NSD, BIND)");
    const mid = responder.respond(query("mid.example.test", TXT, { udpSize: 4096 }), true)?.bytes as Buffer;
    assert.ok(mid.length > 512 && mid.length <= 1232);
    assert.deepEqual([header(mid).tc, header(mid).an], [false, 3]);
    assert.ok(header(responder.respond(query("mid.example.test", TXT), true)?.bytes as Buffer).tc);
    const tcp = responder.respond(query("big.example.test", TXT), false)?.bytes as Buffer;
    assert.equal(header(tcp).an, 12);
  });

  it("answers NOTIMP for other opcodes, FORMERR for malformed queries, and drops unreadable headers", () => {
    assert.equal(
      header(responder.respond(query("www.example.test", A, { opcode: 2 }), true)?.bytes as Buffer).rcode,
      4,
    );
    const bad = query("www.example.test", A);
    bad.writeUInt16BE(2, 4);
    assert.equal(header(responder.respond(bad, true)?.bytes as Buffer).rcode, 1);
    assert.equal(responder.respond(Buffer.from([1, 2, 3]), true), undefined);
    const response = query("www.example.test", A);
    response[2] = 0x80;
    assert.equal(responder.respond(response, true), undefined, "responses are never answered");
  });

  it("answers wildcard and NXDOMAIN names through the general path the same way twice", () => {
    const first = responder.respond(query("Foo.wild.example.test", A), true)?.bytes as Buffer;
    const second = responder.respond(query("foo.WILD.example.test", A), true)?.bytes as Buffer;
    assert.equal(header(first).an, 1);
    assert.deepEqual(first.subarray(12 + 22), second.subarray(12 + 22));
    assert.equal(second.toString("latin1", 17, 21), "WILD");
  });

  it("keeps every additional RRset that fits when the whole answer does not, without TC", () => {
    const mx = Array.from({ length: 8 }, (_, i) => [
      `mxbig MX ${i} mx${i}.mxbig`,
      `mx${i}.mxbig A 198.51.100.${i}`,
      `mx${i}.mxbig AAAA 2001:db8:100::${i}`,
    ]).flat();
    const r = new Responder(
      new ZoneSet([
        new Zone(
          "example.test",
          parseZoneFile(`${exampleZone}${mx.join("\n")}\n`, {
            file: "z",
            origin: "example.test",
            defaultTtl: 60,
          }),
        ),
      ]),
    );
    const whole = r.respond(query("mxbig.example.test", 15), false)?.bytes as Buffer;
    assert.equal(header(whole).ar, 16);
    const out = r.respond(query("mxbig.example.test", 15), true)?.bytes as Buffer;
    const h = header(out);
    assert.ok(out.length <= 512 && whole.length > 512);
    assert.deepEqual([h.tc, h.an], [false, 8]);
    assert.ok(h.ar > 0 && h.ar < 16, `${h.ar} additional records fit`);
    const decoded = decode(out);
    assert.equal(decoded.additionals?.length, h.ar, "well-formed: compression only points at what was sent");
  });

  it("adds Extended DNS Error 20 (Not Authoritative) to REFUSED when the query has EDNS", () => {
    const out = responder.respond(query("example.org", A, { udpSize: 1232 }), true)?.bytes as Buffer;
    assert.equal(header(out).rcode, 5);
    const opt = decode(out).additionals?.find((a) => a.type === "OPT");
    assert.ok(opt && opt.type === "OPT");
    assert.deepEqual(
      opt.options.map((o) => [o.code, o.data?.toString("hex")]),
      [[15, "0014"]],
    );
    assert.equal(header(responder.respond(query("example.org", A), true)?.bytes as Buffer).ar, 0);
  });

  it("sets TC when glue a referral needs does not fit (RFC 9471), not for sibling or missing glue", () => {
    const servers = Array.from({ length: 13 }, (_, i) => `ns${i}.bigdel`);
    const r = new Responder(
      new ZoneSet([
        new Zone(
          "example.test",
          parseZoneFile(
            [
              exampleZone,
              ...servers.flatMap((ns, i) => [
                `bigdel NS ${ns}`,
                `${ns} A 203.0.113.${i}`,
                `${ns} AAAA 2001:db8::${i}`,
              ]),
              ...Array.from({ length: 20 }, (_, i) => `sib NS ns${i}.sibling`),
              ...Array.from({ length: 20 }, (_, i) => `ns${i}.sibling A 198.51.100.${i}`),
              "",
            ].join("\n"),
            { file: "z", origin: "example.test", defaultTtl: 60 },
          ),
        ),
      ]),
    );
    const referral = r.respond(query("host.bigdel.example.test", 1), true)?.bytes as Buffer;
    const h = header(referral);
    assert.ok(referral.length <= 512);
    assert.deepEqual([h.tc, h.aa, h.an, h.ns], [true, false, 0, 13]);
    assert.ok(h.ar > 0, "the glue that fits is kept, as Knot does");
    const whole = header(
      r.respond(query("host.bigdel.example.test", 1, { udpSize: 1232 }), true)?.bytes as Buffer,
    );
    assert.deepEqual([whole.tc, whole.ar], [false, 27]);
    // Glue for servers outside the delegated zone is optional: leaving it out is no reason for TC.
    const sibling = header(r.respond(query("host.sib.example.test", 1), true)?.bytes as Buffer);
    assert.deepEqual([sibling.tc, sibling.ns], [false, 20]);
  });

  it("answers ANY with one RRset, the lowest type, as Knot does (RFC 8482)", () => {
    const apex = decode(responder.respond(query("example.test", 255), false)?.bytes as Buffer);
    assert.deepEqual(
      apex.answers?.map((a) => a.type),
      ["A"],
    );
    const www = decode(responder.respond(query("www.example.test", 255), true)?.bytes as Buffer);
    assert.deepEqual(
      www.answers?.map((a) => a.type),
      ["CNAME"],
      "the CNAME itself, not followed",
    );
    assert.equal(header(responder.respond(query("nope.example.test", 255), true)?.bytes as Buffer).rcode, 3);
  });

  it("refuses zone transfers: NOTAUTH, and NOTIMP for AXFR over UDP", () => {
    assert.equal(header(responder.respond(query("example.test", 252), false)?.bytes as Buffer).rcode, 9);
    assert.equal(header(responder.respond(query("example.test", 252), true)?.bytes as Buffer).rcode, 4);
    assert.equal(header(responder.respond(query("example.test", 251), true)?.bytes as Buffer).rcode, 9);
  });
});
