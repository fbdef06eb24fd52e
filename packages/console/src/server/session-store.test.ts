import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SessionStore } from "./session-store.js";

describe("SessionStore", () => {
  test("a new session has distinct random id and CSRF token and is found by its id", () => {
    const store = new SessionStore();
    const a = store.create();
    const b = store.create();
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.id, a.csrf);
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(store.get(a.id), a);
    assert.equal(store.get("nope"), undefined);
  });

  test("a session idle for longer than idleMs is gone; use extends it", () => {
    let now = 1000;
    const store = new SessionStore({ idleMs: 100, now: () => now });
    const s = store.create();
    now = 1090;
    assert.equal(store.get(s.id), s, "used before it expires");
    now = 1180;
    assert.equal(store.get(s.id), s, "the use above extended it");
    now = 1280;
    assert.equal(store.get(s.id), undefined);
    assert.equal(store.size, 0);
  });

  test("over max, the least recently used session goes", () => {
    const store = new SessionStore({ max: 2 });
    const a = store.create();
    const b = store.create();
    store.get(a.id);
    const c = store.create();
    assert.equal(store.get(b.id), undefined);
    assert.equal(store.get(a.id), a);
    assert.equal(store.get(c.id), c);
  });

  test("delete ends a session", () => {
    const store = new SessionStore();
    const s = store.create();
    store.delete(s.id);
    assert.equal(store.get(s.id), undefined);
  });
});
