import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fuzzRandom, mutatePrefix } from "@switchyard/testkit";
import { PROXY_V2_DEFAULT_MAX_BYTES, type ProxyEndpoint, parseProxyHeader } from "./proxy-protocol.js";
import { encodeProxyV1, encodeProxyV2 } from "./proxy-protocol-encode.js";

const ascii = (text: string) => Buffer.from(text, "latin1");

describe("parseProxyHeader on hostile input", () => {
  it("gives a well-formed, final answer for mutated headers, and round-trips what it accepts", (t) => {
    const random = fuzzRandom(t);
    const seeds: Uint8Array[] = [
      encodeProxyV2({ source: { address: "::1", port: 1 }, destination: { address: "::2", port: 2 } }),
      encodeProxyV2({
        source: { address: "192.0.2.1", port: 40000 },
        destination: { address: "198.51.100.7", port: 443 },
        tlvs: [{ type: 0x02, value: ascii("a.example") }],
      }),
      encodeProxyV2({ command: "local" }),
      ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
      ascii("PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 65535 0\r\n"),
      ascii("PROXY UNKNOWN\r\n"),
    ];
    const kinds = new Map<string, number>();
    for (let n = 0; n < 20_000; n++) {
      const base = seeds[n % seeds.length] as Uint8Array;
      const buf = Buffer.concat([mutatePrefix(random, base), random.bytes(random.int(3))]);
      const result = parseProxyHeader(buf);
      const at = `input ${buf.toString("hex")} (seed ${random.seed})`;
      kinds.set(result.kind, (kinds.get(result.kind) ?? 0) + 1);
      if (result.kind === "invalid") assert.ok(result.reason.length > 0, at);
      if (result.kind === "invalid" || result.kind === "absent") {
        // A decision is final: more bytes do not change it.
        const more = Buffer.concat([buf, random.bytes(1 + random.int(200))]);
        assert.deepEqual(parseProxyHeader(more), result, at);
        continue;
      }
      if (result.kind === "incomplete") {
        assert.ok(buf.length < PROXY_V2_DEFAULT_MAX_BYTES, `incomplete past the largest header: ${at}`);
        continue;
      }
      assert.ok(result.consumed > 0 && result.consumed <= buf.length, at);
      // The header alone gives the same answer, and every strict prefix of it waits for more.
      assert.deepEqual(parseProxyHeader(buf.subarray(0, result.consumed)), result, at);
      assert.deepEqual(
        parseProxyHeader(buf.subarray(0, random.int(result.consumed))),
        { kind: "incomplete" },
        at,
      );
      if (result.command !== "proxy" || (result.family !== "inet" && result.family !== "inet6")) continue;
      const source = result.source as ProxyEndpoint;
      const destination = result.destination as ProxyEndpoint;
      const again =
        result.version === 1
          ? parseProxyHeader(encodeProxyV1({ source, destination }))
          : parseProxyHeader(
              encodeProxyV2({
                source,
                destination,
                ...(result.transport === "dgram" ? { transport: "dgram" as const } : {}),
                ...(result.tlvs ? { tlvs: result.tlvs } : {}),
              }),
            );
      assert.equal(again.kind, "done", at);
      if (again.kind !== "done") continue;
      assert.deepEqual([again.source, again.destination, again.tlvs], [source, destination, result.tlvs], at);
    }
    // The mutations reach every outcome, so the checks above are not vacuous.
    for (const kind of ["done", "incomplete", "invalid", "absent"])
      assert.ok((kinds.get(kind) ?? 0) > 100, `${kind}: ${JSON.stringify([...kinds])}`);
  });
});
