/**
 * The zone the differential test serves from Knot and from Switchyard (tests only), and the query
 * corpus generated from it.
 */
import { canonical, parentOf } from "../wire/names.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { query, seeded } from "./test-fixtures.js";

export const DIFF_ORIGIN = "diff.test";

const s200 = (c: string) => c.repeat(200);
const bigTxt = Array.from({ length: 12 }, (_, i) => `big TXT "${s200(String.fromCharCode(97 + i))}"`);
const manyA = Array.from({ length: 40 }, (_, i) => `many A 192.0.2.${i + 1}`);
const mxBig = Array.from({ length: 8 }, (_, i) => [
  `mxbig MX ${i} mx${i}.mxbig`,
  `mx${i}.mxbig A 198.51.100.${i}`,
  `mx${i}.mxbig AAAA 2001:db8:100::${i}`,
  `mx${i}.mxbig AAAA 2001:db8:101::${i}`,
]).flat();
// A delegation whose glue cannot fit in 512 octets (RFC 9471 case).
const bigDelegation = Array.from({ length: 13 }, (_, i) => {
  const ns = `ns${String(i).padStart(2, "0")}.bigdel`;
  return [`bigdel NS ${ns}`, `${ns} A 203.0.113.${i}`, `${ns} AAAA 2001:db8:113::${i}`];
}).flat();

export const diffZone = `$ORIGIN diff.test.
$TTL 3600
@       IN SOA ns1 hostmaster ( 2024060101 ; serial
                7200 900 1209600 300 )
        IN NS ns1
        IN NS ns2
        IN NS ns.outside.example.
        IN MX 10 mail
        IN MX 20 mail2.outside.example.
        IN A 192.0.2.1
        IN AAAA 2001:db8::1
        IN TXT "v=spf1 mx -all"
        IN CAA 0 issue "letsencrypt.org"
        IN CAA 0 iodef "mailto:security@diff.test"
        IN CAA 128 tbs "Critical"
ns1     IN A 192.0.2.53
        IN AAAA 2001:db8::53
ns2 600 IN A 192.0.2.54
mail    IN A 192.0.2.25
        IN AAAA 2001:db8::25
www 300 IN CNAME web
web 300 IN A 192.0.2.80
    300 IN A 192.0.2.81
        IN AAAA 2001:db8::80
chain1  IN CNAME chain2
chain2  IN CNAME chain3
chain3  IN CNAME www
loop1   IN CNAME loop2
loop2   IN CNAME loop1
self    IN CNAME self
dangling IN CNAME missing
out     IN CNAME www.outside.example.
to-apex IN CNAME @
to-wild IN CNAME host9.w
to-mx   IN CNAME mxbig
to-deleg IN CNAME host.sub
txt     IN TXT "hello world" "second \\"quoted\\"" "semi;colon" "tab\\009end"
multi   IN TXT ( "part one"
                 "part two" ; a comment inside
                 "part three" )
long    IN TXT "${"L".repeat(255)}" "${"M".repeat(255)}" "${"N".repeat(100)}"
empty   IN TXT ""
_sip._tcp  IN SRV 10 60 5060 sip
           IN SRV 20 40 5061 sip2
_xmpp._tcp IN SRV 5 0 5269 mail
_nope._tcp IN SRV 0 0 0 .
sip     IN A 192.0.2.60
sip2    IN AAAA 2001:db8::61
4.2.0.192.in-addr IN PTR web.diff.test.
ptr     IN PTR www.example.com.
a.b.c   IN TXT "deep"
MiXeD   IN A 192.0.2.77
; RFC 4592 section 2.2.1, one level down (w stands for the RFC's apex)
*.w       IN TXT "this is a wildcard"
*.w       IN MX 10 host1.w
sub.*.w   IN TXT "this is not a wildcard"
host1.w   IN A 192.0.2.101
_ssh._tcp.host1.w IN SRV 0 0 22 host1.w
_ssh._tcp.host2.w IN SRV 0 0 22 host2.w
subdel.w  IN NS ns.example.com.
subdel.w  IN NS ns.example.net.
*.wc    IN CNAME web
*.wchain IN CNAME chain1
*.wdeep IN A 192.0.2.111
x.y.wdeep IN A 192.0.2.112
sub     IN NS ns.sub
        IN NS ns2.sub
        IN NS ns.outside.example.
ns.sub  IN A 192.0.2.153
        IN AAAA 2001:db8::153
ns2.sub IN A 192.0.2.154
outdel  IN NS ns.outside.example.
${[...bigTxt, ...manyA, ...mxBig, ...bigDelegation].join("\n")}
`;

export interface CorpusQuery {
  /** What the query tests, for failure messages. */
  label: string;
  name: string;
  type: number;
  udpSize?: number;
  version?: number;
  rd?: boolean;
  /** Also sent over TCP (besides every third query). */
  tcp?: boolean;
  /** EDNS DO bit (needs udpSize). */
  dnssecOk?: boolean;
}

const T = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DS: 43,
  DNSKEY: 48,
  CAA: 257,
} as const;
const served = [T.A, T.AAAA, T.CNAME, T.MX, T.TXT, T.NS, T.SOA, T.SRV, T.CAA, T.PTR];

/** Every name of the zone (owners and empty non-terminals) plus names that exercise the rules around them. */
export function corpusNames(): string[] {
  const owners = parseZoneFile(diffZone, { file: "diff", origin: DIFF_ORIGIN, defaultTtl: 3600 }).map(
    (r) => r.name,
  );
  const names = new Set<string>();
  for (const owner of owners) {
    for (let n = owner; n !== "test" && n !== ""; n = parentOf(n)) names.add(n);
  }
  const extra = [
    "nope", // NXDOMAIN
    "deeper.nope",
    "x.www", // below a CNAME owner: NXDOMAIN
    "x.a.b.c", // below an existing name
    // RFC 4592 2.2.1 queries
    "host3.w",
    "foo.bar.w",
    "ghost.*.w",
    "_telnet._tcp.host1.w",
    "_ssh._tcp.host3.w",
    "host.subdel.w",
    "a.b.subdel.w",
    "anything.wc",
    "x.y.wc",
    "any.wchain",
    "q.wdeep",
    "x.wdeep", // exists as an empty non-terminal: no synthesis
    "z.x.wdeep", // closest encloser x.wdeep: *.x.wdeep absent → NXDOMAIN
    "host.sub",
    "a.b.ns.sub",
    "host.outdel",
    "x.bigdel",
    "missing",
  ];
  for (const e of extra) names.add(`${e}.${DIFF_ORIGIN}`);
  return [...names].map(canonical);
}

/**
 * The corpus: every name × every served type (plus a few we do not serve), EDNS sizes and none,
 * BADVERS, RD clear, mixed case and names outside the zone.
 */
export function diffCorpus(seed = 4592): CorpusQuery[] {
  const random = seeded(seed);
  const names = corpusNames();
  const out: CorpusQuery[] = [];
  for (const name of names) {
    for (const type of served) out.push({ label: "name×type", name, type, udpSize: 1232 });
  }
  const unserved = [T.HINFO, T.DS, T.DNSKEY, 99, 65280];
  for (const name of ["diff.test", "www.diff.test", "sub.diff.test", "nope.diff.test", "host1.w.diff.test"])
    for (const type of unserved) out.push({ label: "unserved type", name, type, udpSize: 1232 });
  const tcCases: Array<[string, number]> = [
    ["big.diff.test", T.TXT],
    ["many.diff.test", T.A],
    ["mxbig.diff.test", T.MX],
    ["to-mx.diff.test", T.MX],
    ["bigdel.diff.test", T.A],
    ["x.bigdel.diff.test", T.AAAA],
    ["long.diff.test", T.TXT],
    ["diff.test", T.CAA],
    ["diff.test", T.NS],
    ["web.diff.test", T.A],
  ];
  for (const [name, type] of tcCases) {
    out.push({ label: "no EDNS", name, type });
    for (const udpSize of [512, 1232, 4096, 100, 65535])
      out.push({ label: `EDNS ${udpSize}`, name, type, udpSize });
  }
  // RFC 8482: ANY gets one RRset; zone transfers and other meta-queries are not served.
  for (const name of names) out.push({ label: "ANY", name, type: 255, udpSize: 1232, tcp: true });
  for (const name of ["diff.test", "www.diff.test", "nope.diff.test", "sub.diff.test", "example.org"]) {
    for (const type of [251, 252, 253, 254])
      out.push({ label: "meta-query", name, type, udpSize: 1232, tcp: true });
  }
  for (const name of ["www.diff.test", "nope.diff.test", "example.org"]) {
    out.push({ label: "BADVERS", name, type: T.A, udpSize: 1232, version: 1 });
    out.push({ label: "BADVERS", name, type: T.A, udpSize: 1232, version: 255 });
  }
  for (let i = 0; i < 40; i++) {
    const name = names[Math.floor(random() * names.length)] as string;
    const type = served[Math.floor(random() * served.length)] as number;
    const mixed = [...name].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join("");
    out.push({ label: "mixed case", name: mixed, type, udpSize: random() < 0.5 ? 1232 : undefined });
  }
  for (let i = 0; i < 20; i++) {
    const name = names[Math.floor(random() * names.length)] as string;
    out.push({ label: "RD clear", name, type: T.A, udpSize: 1232, rd: false });
  }
  for (const name of ["example.org", "test", "org", "other-diff.test", "diff.test.org", "xdiff.test"]) {
    for (const type of [T.A, T.NS, T.SOA]) out.push({ label: "out of zone", name, type, udpSize: 1232 });
    out.push({ label: "out of zone, no EDNS", name, type: T.A });
  }
  return out;
}

/** The corpus entry as wire bytes, with the given ID. */
export function corpusPacket(q: CorpusQuery, id: number): Buffer {
  return query(q.name, q.type, {
    id,
    ...(q.udpSize !== undefined ? { udpSize: q.udpSize } : {}),
    ...(q.version !== undefined ? { version: q.version } : {}),
    ...(q.rd === false ? { rd: false } : {}),
    ...(q.dnssecOk ? { dnssecOk: true } : {}),
  });
}
