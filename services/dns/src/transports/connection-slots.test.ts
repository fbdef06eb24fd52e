import assert from "node:assert/strict";
import { once } from "node:events";
import { Socket } from "node:net";
import { describe, it } from "node:test";
import { type ConnectionSlot, ConnectionSlots, type Refusal } from "./connection-slots.js";

const limits = { maxConnections: 4, maxConnectionsPerAddress: 2, sessionTimeoutMs: 60_000 };

function slots() {
  const seen = { connections: 0, addresses: 0, refused: [] as Refusal[] };
  const s = new ConnectionSlots(() => limits, {
    held: (connections, addresses) => Object.assign(seen, { connections, addresses }),
    refused: (reason) => seen.refused.push(reason),
    expired: () => {},
  });
  return { s, seen };
}

describe("connection slots", () => {
  it("caps per address (IPv6 per /64, IPv4-mapped as IPv4) and in all, and releases once on close", async () => {
    const { s, seen } = slots();
    const a = s.admit(new Socket(), "2001:db8:1:2::1") as ConnectionSlot;
    const b = s.admit(new Socket(), "2001:db8:1:2:ffff::9") as ConnectionSlot;
    assert.equal(s.admit(new Socket(), "2001:db8:1:2::77"), "per-address", "the same /64");
    const c = s.admit(new Socket(), "2001:db8:1:3::1") as ConnectionSlot;
    const d = s.admit(new Socket(), "::ffff:192.0.2.1") as ConnectionSlot;
    assert.equal(s.admit(new Socket(), "192.0.2.2"), "max-connections");
    assert.deepEqual(seen, { connections: 4, addresses: 3, refused: ["per-address", "max-connections"] });
    for (const slot of [a, b, c, d]) {
      const closed = once(slot.socket, "close");
      slot.socket.destroy();
      await closed;
      slot.socket.emit("close");
    }
    assert.deepEqual({ ...seen, refused: [] }, { connections: 0, addresses: 0, refused: [] });
    assert.equal(s.size, 0);
  });

  it("runs a deadline's action when it passes, and starts none after the release", async () => {
    const { s } = slots();
    const slot = s.admit(new Socket(), "192.0.2.1") as ConnectionSlot;
    // Deadline timers are unref'd: something has to keep this test's event loop alive.
    const alive = setInterval(() => {}, 1000);
    try {
      await new Promise<void>((resolve) => slot.deadline("query", "query", 10, resolve));
    } finally {
      clearInterval(alive);
    }
    assert.equal(slot.has("query"), false, "a deadline that passed is gone");
    slot.deadline("idle", "idle", 60_000, () => assert.fail("idle ran after the release"));
    const released = new Promise<void>((resolve) => slot.onRelease(resolve));
    slot.socket.destroy();
    await released;
    assert.equal(slot.has("idle"), false, "the release stopped the running deadline");
    slot.deadline("late", "idle", 1, () => assert.fail("a deadline started after the release ran"));
    assert.equal(slot.has("late"), false, "none starts after the release");
  });
});
