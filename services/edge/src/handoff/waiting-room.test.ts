import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { WaitingRoom } from "./waiting-room.js";

describe("WaitingRoom", () => {
  it("refuses to hold anything when waiting is off", () => {
    const room = new WaitingRoom<string>({ waitMs: 0, maxPerPool: 10 }, () => {});
    assert.equal(room.park("p", "a"), false);
    assert.equal(room.size, 0);
  });

  it("gives each pool's items back longest-waiting first, and forgets an emptied pool", () => {
    const room = new WaitingRoom<string>({ waitMs: 60_000, maxPerPool: 10 }, () => {});
    for (const [pool, item] of [
      ["p", "a"],
      ["q", "x"],
      ["p", "b"],
    ] as const)
      assert.equal(room.park(pool, item), true);
    assert.deepEqual(room.waitingPools().sort(), ["p", "q"]);
    assert.deepEqual([room.take("p"), room.take("p"), room.take("p")], ["a", "b", undefined]);
    assert.deepEqual(room.waitingPools(), ["q"]);
    assert.equal(room.size, 1);
    room.clear(() => {});
  });

  it("holds at most maxPerPool per pool; other pools are not affected", () => {
    const room = new WaitingRoom<number>({ waitMs: 60_000, maxPerPool: 2 }, () => {});
    assert.deepEqual(
      [room.park("p", 1), room.park("p", 2), room.park("p", 3), room.park("q", 4)],
      [true, true, false, true],
    );
    assert.equal(room.size, 3);
    room.clear(() => {});
  });

  it("expires an item exactly once at its deadline; one taken before it never expires", async () => {
    const expired: string[] = [];
    const room = new WaitingRoom<string>({ waitMs: 20, maxPerPool: 10 }, (item) => expired.push(item));
    room.park("p", "taken");
    room.park("p", "left");
    assert.equal(room.take("p"), "taken");
    await waitFor(() => room.size === 0, { what: "the left item expiring" });
    // Wait past the taken item's deadline too: it must not come back as expired.
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(expired, ["left"]);
    assert.deepEqual(room.waitingPools(), []);
  });

  it("clear hands every item over once, and their timers never fire afterwards", async () => {
    const expired: string[] = [];
    const room = new WaitingRoom<string>({ waitMs: 20, maxPerPool: 10 }, (item) => expired.push(item));
    room.park("p", "a");
    room.park("q", "b");
    const cleared: string[] = [];
    room.clear((item) => cleared.push(item));
    assert.deepEqual(cleared.sort(), ["a", "b"]);
    assert.equal(room.size, 0);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(expired, []);
  });

  it("reads its settings at each park: a reload changes the bound for new arrivals", () => {
    const settings = { waitMs: 60_000, maxPerPool: 1 };
    const room = new WaitingRoom<number>(settings, () => {});
    assert.equal(room.park("p", 1), true);
    assert.equal(room.park("p", 2), false);
    settings.maxPerPool = 2;
    assert.equal(room.park("p", 2), true);
    settings.waitMs = 0;
    assert.equal(room.park("q", 3), false);
    room.clear(() => {});
  });
});
