import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  checkAdminToken,
  checkStateChange,
  GuardError,
  MESSAGES,
  requireSession,
  sameSecret,
} from "./request-guard.js";
import { SessionStore } from "./session-store.js";

const refused = (status: number, message: string) => (error: unknown) =>
  error instanceof GuardError && error.status === status && error.message === message;

describe("request guard", () => {
  test("sameSecret compares whole strings", () => {
    assert.equal(sameSecret("abc", "abc"), true);
    assert.equal(sameSecret("abc", "abd"), false);
    assert.equal(sameSecret("ab", "abc"), false);
    assert.equal(sameSecret("", "abc"), false);
  });

  test("checkAdminToken: the token (trimmed) passes; anything else is 401 wrong admin token", () => {
    checkAdminToken("secret", "secret");
    checkAdminToken(" secret\n", "secret");
    for (const given of ["Secret", "", undefined, 42, null, "secret2"]) {
      assert.throws(() => checkAdminToken(given, "secret"), refused(401, MESSAGES.wrongToken), String(given));
    }
  });

  test("requireSession: a Bearer with a live session id; else 401", () => {
    const store = new SessionStore();
    const s = store.create();
    assert.equal(requireSession({ authorization: `Bearer ${s.id}` }, store), s);
    for (const authorization of [undefined, "", s.id, `Basic ${s.id}`, "Bearer nope", `Bearer ${s.id} x`]) {
      assert.throws(
        () => requireSession({ authorization }, store),
        refused(401, MESSAGES.noSession),
        String(authorization),
      );
    }
  });

  test("checkStateChange: the session's CSRF token and, when sent, the server's own origin; else 403", () => {
    const s = new SessionStore().create();
    const host = "127.0.0.1:10902";
    checkStateChange({ host, "x-csrf-token": s.csrf }, s);
    checkStateChange({ host, origin: `http://${host}`, "x-csrf-token": s.csrf }, s);
    assert.throws(() => checkStateChange({ host }, s), refused(403, MESSAGES.csrf));
    assert.throws(
      () => checkStateChange({ host, "x-csrf-token": `${s.csrf}x` }, s),
      refused(403, MESSAGES.csrf),
    );
    assert.throws(
      () => checkStateChange({ host, origin: "http://evil.test", "x-csrf-token": s.csrf }, s),
      refused(403, MESSAGES.origin),
    );
    assert.throws(
      () => checkStateChange({ host, origin: "null", "x-csrf-token": s.csrf }, s),
      refused(403, MESSAGES.origin),
    );
  });
});
