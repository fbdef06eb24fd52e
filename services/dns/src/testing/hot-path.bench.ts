#!/usr/bin/env node
import { resolve } from "../answer/resolver.js";
import { Responder } from "../answer/responder.js";
import { encodeTemplate } from "../answer/response-template.js";
/**
 * An informative loop (no assertions): the pre-encoded hot path against resolving and encoding each
 * query on the general path. Run: node services/dns/dist/testing/hot-path.bench.js
 */
import { parseQuery } from "../wire/query-parser.js";
import { RRType, type RRTypeName, typeNames } from "../wire/records.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { exampleZone, query } from "./test-fixtures.js";

const zones = new ZoneSet([
  new Zone(
    "example.test",
    parseZoneFile(exampleZone, { file: "z", origin: "example.test", defaultTtl: 300 }),
  ),
]);
const responder = new Responder(zones);
const queries = [
  query("www.example.test", RRType.A, { udpSize: 1232 }),
  query("example.test", RRType.MX),
  query("Mail.Example.Test", RRType.AAAA),
];
const n = 300_000;

function time(label: string, fn: (q: Buffer) => unknown): void {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(queries[i % queries.length] as Buffer);
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(
    `${label.padEnd(36)} ${ns.toFixed(0).padStart(6)} ns/query  ${(1e9 / ns / 1000).toFixed(0)}k/s`,
  );
}

for (let round = 0; round < 2; round++) {
  time("hot path (parse + pre-encoded)", (q) => responder.respond(q, true));
  time("general path (parse + resolve + encode)", (q) => {
    const p = parseQuery(q);
    if (p.kind !== "query") return;
    const type = typeNames.get(p.query.qtype) as RRTypeName;
    return encodeTemplate(p.query.qname, p.query.qtype, 1, resolve(zones, p.query.qname, type));
  });
}
