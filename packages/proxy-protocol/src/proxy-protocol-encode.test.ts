import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseProxyHeader } from "./proxy-protocol.js";
import { encodeProxyV1, encodeProxyV2 } from "./proxy-protocol-encode.js";

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ascii = (text: string) => Buffer.from(text, "latin1");

describe("encodeProxyV1 / encodeProxyV2", () => {
  const v4 = {
    source: { address: "192.0.2.1", port: 40000 },
    destination: { address: "198.51.100.7", port: 443 },
  };
  const v6 = {
    source: { address: "2001:db8::1", port: 1 },
    destination: { address: "2001:db8::2", port: 2 },
  };

  it("writes v1 lines the parser reads back", () => {
    assert.equal(encodeProxyV1(v4).toString(), "PROXY TCP4 192.0.2.1 198.51.100.7 40000 443\r\n");
    assert.equal(encodeProxyV1(v6).toString(), "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
    for (const info of [v4, v6]) {
      const result = parseProxyHeader(encodeProxyV1(info));
      assert.equal(result.kind, "done");
      assert.deepEqual(result.kind === "done" && [result.source, result.destination], [
        info.source,
        info.destination,
      ]);
    }
  });

  it("writes IPv4-mapped endpoints as TCP4 and mixed families as TCP6", () => {
    const mapped = encodeProxyV1({
      source: { address: "::ffff:192.0.2.1", port: 1 },
      destination: { address: "::ffff:10.0.0.1", port: 2 },
    });
    assert.equal(mapped.toString(), "PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n");
    const mixed = encodeProxyV1({ source: { address: "192.0.2.1", port: 1 }, destination: v6.destination });
    assert.equal(mixed.toString(), "PROXY TCP6 ::ffff:c000:201 2001:db8::2 1 2\r\n");
    const back = parseProxyHeader(mixed);
    assert.equal(back.kind === "done" && back.source?.address, "192.0.2.1");
  });

  it("falls back to UNKNOWN / AF_UNSPEC when an endpoint is unusable, instead of throwing", () => {
    const broken = { source: { address: "", port: 0 }, destination: v4.destination };
    assert.equal(encodeProxyV1(null).toString(), "PROXY UNKNOWN\r\n");
    assert.equal(encodeProxyV1(broken).toString(), "PROXY UNKNOWN\r\n");
    assert.equal(
      encodeProxyV1({ ...v4, destination: { address: "1.2.3.4", port: 70000 } }).toString(),
      "PROXY UNKNOWN\r\n",
    );
    assert.deepEqual([...encodeProxyV2(broken)], [...SIG, 0x21, 0x00, 0, 0]);
  });

  it("writes v2 headers the parser reads back", () => {
    for (const info of [v4, v6]) {
      const buf = encodeProxyV2(info);
      assert.equal(buf.length, info === v4 ? 28 : 52);
      const result = parseProxyHeader(buf);
      assert.equal(result.kind, "done");
      if (result.kind !== "done") return;
      assert.equal(result.consumed, buf.length);
      assert.equal(result.transport, "stream");
      assert.deepEqual([result.source, result.destination], [info.source, info.destination]);
    }
    const dgram = parseProxyHeader(encodeProxyV2({ ...v4, transport: "dgram" }));
    assert.equal(dgram.kind === "done" && dgram.transport, "dgram");
  });

  it("writes v2 LOCAL without addresses, and TLVs", () => {
    assert.deepEqual([...encodeProxyV2({ command: "local" })], [...SIG, 0x20, 0x00, 0, 0]);
    const buf = encodeProxyV2({ ...v4, tlvs: [{ type: 0x02, value: ascii("example.com") }] });
    const result = parseProxyHeader(buf);
    assert.equal(result.kind, "done");
    if (result.kind !== "done") return;
    assert.equal(result.tlvs?.[0]?.type, 2);
    assert.equal(Buffer.from(result.tlvs?.[0]?.value ?? []).toString(), "example.com");
    assert.throws(
      () => encodeProxyV2({ ...v4, tlvs: [{ type: 4, value: new Uint8Array(65535) }] }),
      RangeError,
    );
  });
});
