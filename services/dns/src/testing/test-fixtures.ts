import { seededUnit } from "@switchyard/testkit";

/** A zone exercising every case the tests need (tests only). */
export const exampleZone = `$ORIGIN example.test.
$TTL 300
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        3600 900 604800 60 )
    IN NS ns1
    IN MX 10 mail
    IN A 192.0.2.1
ns1 IN A 192.0.2.53
mail 600 IN A 192.0.2.25
     IN AAAA 2001:db8::25
www IN CNAME web
web IN A 192.0.2.80
chain1 IN CNAME chain2
chain2 IN CNAME www
loop1 IN CNAME loop2
loop2 IN CNAME loop1
dangling IN CNAME missing
*.wild IN A 192.0.2.99
*.wild IN TXT "wild"
exists.wild IN TXT "not wild"
a.b.c IN TXT "deep"
txt IN TXT "hello world" "second \\"quoted\\""
_sip._tcp IN SRV 10 5 5060 sip
sip IN A 192.0.2.60
sub IN NS ns.sub
ns.sub IN A 192.0.2.153
caa IN CAA 0 issue "letsencrypt.org"
4.2.0.192.in-addr IN PTR web
`;

/** A query in wire format (tests only): one question, optional OPT. */
export function query(
  name: string,
  type: number,
  options: {
    id?: number;
    udpSize?: number;
    version?: number;
    rd?: boolean;
    opcode?: number;
    dnssecOk?: boolean;
  } = {},
): Buffer {
  const labels = name.split(".").filter((l) => l.length > 0);
  const qname = Buffer.concat([
    ...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(options.id ?? 0x1234, 0);
  header.writeUInt16BE(((options.opcode ?? 0) << 11) | (options.rd === false ? 0 : 0x0100), 2);
  header.writeUInt16BE(1, 4);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(type, 0);
  q.writeUInt16BE(1, 2);
  if (options.udpSize === undefined) return Buffer.concat([header, qname, q]);
  header.writeUInt16BE(1, 10);
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(options.udpSize, 3);
  opt[6] = options.version ?? 0;
  if (options.dnssecOk) opt[7] = 0x80;
  return Buffer.concat([header, qname, q, opt]);
}

/** Header fields of a response (tests only). */
export function header(msg: Buffer) {
  const flags = msg.readUInt16BE(2);
  return {
    id: msg.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    qd: msg.readUInt16BE(4),
    an: msg.readUInt16BE(6),
    ns: msg.readUInt16BE(8),
    ar: msg.readUInt16BE(10),
  };
}

/** A deterministic pseudo-random generator (mulberry32), so the corpus is the same every run. */
export const seeded = seededUnit;
