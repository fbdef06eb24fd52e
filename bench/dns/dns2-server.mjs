#!/usr/bin/env node
/**
 * A reference in bench/dns, not a server anyone should run: the `dns2` npm package's UDP server
 * answering the bench zone (bench.test.zone) from a Map, as its README's server example does. It
 * measures what dns2's server and codec cost per query (the design card suggested dns2; see
 * docs/decisions.md, "DNS: dns2 is not used"). dns2 is not a dependency of this repository:
 *
 *   npm install --no-save dns2@3.1.1      # or put it anywhere and set DNS2_DIR to the folder holding node_modules
 *   node bench/dns/dns2-server.mjs PORT   # prints "ready" when bound; BENCH_TARGETS=...,dns2 in bench.mjs starts it
 *
 * The records are the zone's (the types dnsperf asks for in queries.txt); the wildcard and CNAME
 * chasing are not implemented (those names get their own records here), so dns2 does slightly less
 * work per query than Knot or Switchyard, never more.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

const env = process.env;
const require = createRequire(env.DNS2_DIR ? join(env.DNS2_DIR, "noop.js") : import.meta.url);
const dns2 = require("dns2");
const { Packet } = dns2;
const { TYPE, CLASS } = Packet;

const origin = "bench.test";
const records = new Map();
/** qtype: the question type the record answers (a CNAME answers every type of its name). */
function add(label, type, data, qtype = type) {
  const name = label === "@" ? origin : `${label}.${origin}`;
  const key = `${name}|${qtype}`;
  if (!records.has(key)) records.set(key, []);
  records.get(key).push({ name, type, class: CLASS.IN, ttl: 3600, ...data });
}
const soa = {
  primary: `ns1.${origin}`,
  admin: `hostmaster.${origin}`,
  serial: 2024060101,
  refresh: 7200,
  retry: 900,
  expiration: 1209600,
  minimum: 300,
};
add("@", TYPE.SOA, soa);
add("@", TYPE.NS, { ns: `ns1.${origin}` });
add("@", TYPE.NS, { ns: `ns2.${origin}` });
add("@", TYPE.MX, { priority: 10, exchange: `mail.${origin}` });
add("@", TYPE.A, { address: "192.0.2.1" });
add("@", TYPE.AAAA, { address: "2001:db8::1" });
add("@", TYPE.TXT, { data: "v=spf1 mx -all" });
add("ns1", TYPE.A, { address: "192.0.2.53" });
add("ns2", TYPE.A, { address: "192.0.2.54" });
add("mail", TYPE.A, { address: "192.0.2.25" });
add("mail", TYPE.AAAA, { address: "2001:db8::25" });
for (const label of ["www", "cdn"]) {
  for (const qtype of [TYPE.A, TYPE.AAAA]) add(label, TYPE.CNAME, { domain: `web.${origin}` }, qtype);
}
add("web", TYPE.A, { address: "192.0.2.80" });
add("web", TYPE.A, { address: "192.0.2.81" });
add("web", TYPE.AAAA, { address: "2001:db8::80" });
add("api", TYPE.A, { address: "192.0.2.90" });
add("_sip._tcp", TYPE.SRV, { priority: 10, weight: 60, port: 5060, target: `sip.${origin}` });
add("sip", TYPE.A, { address: "192.0.2.60" });
for (const label of ["one.apps", "two.apps"]) add(label, TYPE.A, { address: "192.0.2.100" });
add("txt", TYPE.TXT, { data: ["hello world", "a second string"] });
add("caa", TYPE.CAA, { flags: 0, tag: "issue", value: "letsencrypt.org" });
const names = new Set([...records.keys()].map((k) => k.slice(0, k.indexOf("|"))));

const server = dns2.createUDPServer((request, send) => {
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  const [question] = request.questions;
  if (!question) return send(response);
  const name = question.name.toLowerCase().replace(/\.$/, "");
  const found = records.get(`${name}|${question.type}`);
  if (found) {
    for (const r of found) response.answers.push({ ...r, name: question.name });
  } else if (name === origin || name.endsWith(`.${origin}`)) {
    if (!names.has(name)) response.header.rcode = 3; // NXDOMAIN
    response.authorities.push({ name: origin, type: TYPE.SOA, class: CLASS.IN, ttl: 300, ...soa });
  } else {
    response.header.rcode = 5; // REFUSED
  }
  send(response);
});
server.on("requestError", () => {});
server.listen(Number(process.argv[2]), "127.0.0.1").then(() => process.stdout.write("ready\n"));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
