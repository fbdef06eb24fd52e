import assert from "node:assert/strict";
import { Socket } from "node:net";
import { test } from "node:test";
import { ConnectionSlot, type Expiry } from "./connection-slot.js";

/** A slot on an unconnected socket, recording what expired in order. */
function slot(expired: string[], name: string): ConnectionSlot {
  return new ConnectionSlot(new Socket(), (reason: Expiry) => expired.push(`${name}:${reason}`));
}

/**
 * An action and a promise that resolves when it runs. Slot timers are unref'd: a ref'd timer keeps
 * the test's event loop alive until then.
 */
function fired(): { action: () => void; done: Promise<void> } {
  let action = () => {};
  const keepAlive = setInterval(() => {}, 60_000);
  const done = new Promise<void>((resolve) => {
    action = resolve;
  }).finally(() => clearInterval(keepAlive));
  return { action, done };
}

test("a cancelled deadline never fires; its twin armed after it does, with its reason and action", async () => {
  const expired: string[] = [];
  const cancelled = slot(expired, "cancelled");
  const armed = slot(expired, "armed");
  let cancelledRan = false;
  // Same duration, armed first: node runs it first, so by the time the twin fires it had its turn.
  cancelled.deadline("idle", "idle", 20, () => {
    cancelledRan = true;
  });
  const twin = fired();
  armed.deadline("idle", "idle", 20, twin.action);
  cancelled.cancel("idle");
  assert.equal(cancelled.deadlines, 0);
  assert.equal(armed.deadlines, 1);
  await twin.done;
  assert.deepEqual(expired, ["armed:idle"]);
  assert.equal(cancelledRan, false);
  assert.equal(armed.deadlines, 0);
});

test("a deadline re-armed after a cancel or after it fired runs again, with the newest reason and action", async () => {
  const expired: string[] = [];
  const s = slot(expired, "s");
  const first = fired();
  s.deadline("k", "header", 10, first.action);
  await first.done;
  // Re-armed after it fired (the same timer, refreshed).
  s.deadline("k", "idle", 10, () => assert.fail("the replaced action ran"));
  s.cancel("k");
  const second = fired();
  s.deadline("k", "closing", 10, second.action);
  await second.done;
  assert.deepEqual(expired, ["s:header", "s:closing"]);
  // Another duration for the same key replaces the timer.
  const third = fired();
  s.deadline("k", "stream", 5, third.action);
  await third.done;
  assert.deepEqual(expired, ["s:header", "s:closing", "s:stream"]);
  assert.equal(s.deadlines, 0);
});

test("release stops every deadline and runs each release hook once; later deadlines are ignored", async () => {
  const expired: string[] = [];
  const released = slot(expired, "released");
  const witness = slot(expired, "witness");
  let hooks = 0;
  released.onRelease(() => hooks++);
  released.deadline("a", "header", 15, () => assert.fail("a released slot's deadline ran"));
  released.deadline("b", "idle", 15, () => assert.fail("a released slot's deadline ran"));
  const done = fired();
  witness.deadline("a", "header", 15, done.action);
  released.release();
  released.release();
  released.deadline("c", "idle", 1);
  assert.equal(released.deadlines, 0);
  await done.done;
  assert.deepEqual(expired, ["witness:header"]);
  assert.equal(hooks, 1);
  released.onRelease(() => hooks++);
  assert.equal(hooks, 2);
});

test("the default action destroys the socket", async () => {
  const expired: string[] = [];
  const s = slot(expired, "s");
  const closed = fired();
  s.socket.once("close", closed.action);
  s.deadline("header", "handshake", 5);
  await closed.done;
  assert.equal(s.socket.destroyed, true);
  assert.deepEqual(expired, ["s:handshake"]);
});

test("arming another key gives up the cancelled timers; a key re-armed with its duration keeps its one", async () => {
  const expired: string[] = [];
  const s = slot(expired, "s");
  // As an HTTP/1.1 connection: handshake, then header (same key and duration: the same timer) ...
  s.deadline("header", "handshake", 60_000);
  s.deadline("header", "header", 60_000, () => assert.fail("a cancelled header deadline ran"));
  assert.equal(s.timersHeld, 1);
  // ... a request cancels it, its response starts the idle deadline: the header timer goes.
  s.cancel("header");
  s.deadline("idle", "idle", 60_000);
  assert.equal(s.timersHeld, 1);
  assert.equal(s.deadlines, 1);
  // Keep-alive: cancelled at each request, re-armed at each response, still one timer.
  for (let i = 0; i < 3; i++) {
    s.cancel("idle");
    s.deadline("idle", "idle", 60_000);
  }
  assert.equal(s.timersHeld, 1);
  // Two armed keys (an HTTP/2 drain: idle and closing) are both kept, and both still fire.
  const closing = fired();
  s.deadline("closing", "closing", 5, closing.action);
  assert.equal(s.timersHeld, 2);
  assert.equal(s.deadlines, 2);
  await closing.done;
  assert.deepEqual(expired, ["s:closing"]);
  assert.equal(s.deadlines, 1);
  const idle = fired();
  s.deadline("idle", "idle", 5, idle.action);
  await idle.done;
  assert.deepEqual(expired, ["s:closing", "s:idle"]);
  s.release();
  assert.equal(s.timersHeld, 0);
});
