/** The soak's DNS questions and the checks of their answers (the zone in soak.e2e.test.ts). */
import assert from "node:assert/strict";
import dnsPacket from "dns-packet";

/** The zone every replica serves: www is a CNAME to web, so a good answer has 2 records. */
export const zoneText = `$ORIGIN example.test.
$TTL 300
@   IN SOA ns1 hostmaster 2024010101 3600 900 604800 60
    IN NS ns1
ns1 IN A 192.0.2.53
www IN CNAME web
web IN A 192.0.2.80
`;

export function question(id: number): Buffer {
  return dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: "A", name: "www.example.test" }],
  });
}

/** Asserts `wire` answers question(id): NOERROR, the CNAME and the A record. */
export function assertAnswered(wire: Buffer, id: number): void {
  // dns-packet decodes rcode, and data on every record type here, though its types leave them out.
  const answer = dnsPacket.decode(wire) as dnsPacket.DecodedPacket & { rcode?: string };
  assert.equal(answer.id, id);
  assert.equal(answer.rcode, "NOERROR");
  assert.deepEqual(
    answer.answers?.map((a) => `${a.type} ${(a as { data?: unknown }).data}`),
    ["CNAME web.example.test", "A 192.0.2.80"],
  );
}
