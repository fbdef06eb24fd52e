import assert from "node:assert/strict";
import { describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { ForwardCache, recordTtls } from "./forward-cache.js";

const answer = (ttl: number, rcode = "NOERROR") =>
  dnsPacket.encode({
    type: "response",
    id: 7,
    flags: rcode === "NXDOMAIN" ? 3 : 0,
    questions: [{ type: "A", name: "www.up.test" }],
    answers: rcode === "NXDOMAIN" ? [] : [{ type: "A", name: "www.up.test", ttl, data: "192.0.2.1" }],
    authorities:
      rcode === "NXDOMAIN"
        ? [
            {
              type: "SOA",
              name: "up.test",
              ttl,
              data: {
                mname: "ns1.up.test",
                rname: "h.up.test",
                serial: 1,
                refresh: 1,
                retry: 1,
                expire: 1,
                minimum: ttl,
              },
            },
          ]
        : [],
  });

describe("forward cache", () => {
  it("serves an answer with its TTL lowered by its age, and forgets it at the TTL", () => {
    let now = 1_000_000;
    const cache = new ForwardCache(10, () => now);
    cache.set("k", answer(10));
    now += 3_500;
    const hit = cache.get("k") as Buffer;
    const [first] = dnsPacket.decode(hit).answers ?? [];
    assert.equal((first as { ttl: number }).ttl, 7);
    now += 6_500;
    assert.equal(cache.get("k"), undefined);
  });

  it("keeps negative answers for the SOA's TTL and drops the least recently used past its size", () => {
    let now = 0;
    const cache = new ForwardCache(2, () => now);
    cache.set("nx", answer(5, "NXDOMAIN"));
    cache.set("a", answer(60));
    cache.get("nx");
    cache.set("b", answer(60));
    assert.ok(cache.get("nx"));
    assert.equal(cache.get("a"), undefined);
    now += 5_000;
    assert.equal(cache.get("nx"), undefined);
  });

  it("does not keep SERVFAIL, truncated or TTL-0 answers", () => {
    const cache = new ForwardCache(10);
    const servfail = Buffer.from(answer(60));
    servfail.writeUInt16BE(0x8002, 2);
    cache.set("s", servfail);
    const tc = Buffer.from(answer(60));
    tc.writeUInt16BE(0x8200, 2);
    cache.set("t", tc);
    cache.set("z", answer(0));
    assert.equal(cache.count, 0);
    assert.deepEqual(recordTtls(answer(42))?.min, 42);
  });
});
