import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "@switchyard/runtime";
import { JOIN_ANYWAY, JOIN_WAITING, joinWhenReady } from "./join-when-ready.js";

/** A logger whose lines are kept (level and msg), and the options joinWhenReady needs around it. */
function harness(waitMs: number) {
  const lines: Array<{ level: string; msg: string }> = [];
  const logger = createLogger("join-test", { level: "info" });
  for (const level of ["info", "warn"] as const)
    (logger as unknown as Record<string, unknown>)[level] = (_fields: object, msg: string) =>
      lines.push({ level, msg });
  let resolve!: () => void;
  let ready = false;
  const state = { joined: 0, stopped: false };
  const options = {
    ready: new Promise<void>((r) => {
      resolve = () => {
        ready = true;
        r();
      };
    }),
    isReady: () => ready,
    waitMs,
    logger,
    meanwhile: "nothing",
    join: () => state.joined++,
    stopped: () => state.stopped,
  };
  return { lines, options, state, resolve };
}

describe("joinWhenReady", () => {
  it("already ready: joins at once and says nothing", async () => {
    const h = harness(60_000);
    h.resolve();
    await joinWhenReady(h.options);
    assert.equal(h.state.joined, 1);
    assert.deepEqual(h.lines, []);
  });

  it("not ready: says it waits, joins once ready, no warning", async () => {
    const h = harness(60_000);
    const done = joinWhenReady(h.options);
    assert.equal(h.state.joined, 0);
    h.resolve();
    await done;
    assert.equal(h.state.joined, 1);
    assert.deepEqual(h.lines, [{ level: "info", msg: JOIN_WAITING }]);
  });

  it("never ready: joins after waitMs with a warning", async () => {
    const h = harness(20);
    await joinWhenReady(h.options);
    assert.equal(h.state.joined, 1);
    assert.deepEqual(h.lines, [
      { level: "info", msg: JOIN_WAITING },
      { level: "warn", msg: JOIN_ANYWAY },
    ]);
  });

  it("stopped while waiting: never joins", async () => {
    const h = harness(60_000);
    const done = joinWhenReady(h.options);
    h.state.stopped = true;
    h.resolve();
    await done;
    assert.equal(h.state.joined, 0);
  });
});
