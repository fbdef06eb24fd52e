import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { streamSectionSchema } from "./stream-section.js";

describe("stream section: relayThreads", () => {
  it("is unset by default (the worker runs one relay thread per CPU)", () => {
    assert.equal(streamSectionSchema.parse({}).relayThreads, undefined);
  });

  it("takes 1 to 64 threads", () => {
    assert.equal(streamSectionSchema.parse({ relayThreads: 1 }).relayThreads, 1);
    assert.equal(streamSectionSchema.parse({ relayThreads: 64 }).relayThreads, 64);
  });

  it("refuses 0, 65 and a fraction, naming the key", () => {
    for (const relayThreads of [0, 65, 1.5]) {
      const result = streamSectionSchema.safeParse({ relayThreads });
      assert.equal(result.success, false, `${relayThreads} was accepted`);
      assert.deepEqual(result.error?.issues[0]?.path, ["relayThreads"]);
    }
  });
});
