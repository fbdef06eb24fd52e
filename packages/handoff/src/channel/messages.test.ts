import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeMessage, encodeMessage, HandoffMessageError } from "./messages.js";

describe("handoff messages", () => {
  it("round-trips a conn message with its replay bytes", () => {
    const payload = Buffer.from([0x16, 0x03, 0x01, 0, 0, 0xff]);
    const frame = encodeMessage(
      {
        type: "conn",
        id: 7,
        route: "r",
        role: "submission",
        remote: { address: "::1", port: 5 },
        local: { address: "::1", port: 6 },
        proxied: false,
        sni: "é.example",
      },
      payload,
    );
    const { message, payload: got } = decodeMessage(frame);
    assert.equal(message.type, "conn");
    assert.equal(message.type === "conn" && message.sni, "é.example");
    assert.equal(message.type === "conn" && message.role, "submission");
    assert.deepEqual(got, payload);
  });

  it("refuses frames that are short, lie about their length, or carry unknown types", () => {
    assert.throws(() => decodeMessage(Buffer.from([0])), HandoffMessageError);
    assert.throws(() => decodeMessage(Buffer.from([0, 9, 0x7b])), HandoffMessageError);
    const bogus = Buffer.from('{"type":"x"}');
    const frame = Buffer.concat([Buffer.from([0, bogus.length]), bogus]);
    assert.throws(() => decodeMessage(frame), /unknown message type "x"/);
    const notJson = Buffer.from("{nope");
    assert.throws(
      () => decodeMessage(Buffer.concat([Buffer.from([0, notJson.length]), notJson])),
      /not JSON/,
    );
  });
});
