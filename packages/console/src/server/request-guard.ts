/**
 * Who may call the console API: the admin token (login), a session (every other call), the
 * session's CSRF token and a same-origin Origin (every state change). Pure functions over headers.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Session, SessionStore } from "./session-store.js";

export class GuardError extends Error {
  override name = "GuardError";
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

export const MESSAGES = {
  wrongToken: "wrong admin token",
  noSession: "not logged in (or the session expired): log in with the admin token",
  csrf: "missing or wrong CSRF token (X-CSRF-Token)",
  origin: "cross-origin request refused",
} as const;

/** Constant-time comparison (of digests, so the length does not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function checkAdminToken(given: unknown, expected: string): void {
  if (typeof given !== "string" || given === "" || !sameSecret(given.trim(), expected)) {
    throw new GuardError(401, MESSAGES.wrongToken);
  }
}

/** The session named by `Authorization: Bearer <id>`. */
export function requireSession(headers: IncomingHttpHeaders, sessions: SessionStore): Session {
  const match = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(headers.authorization ?? "");
  const session = match?.[1] === undefined ? undefined : sessions.get(match[1]);
  if (session === undefined) throw new GuardError(401, MESSAGES.noSession);
  return session;
}

/** The Origin, when the browser sends one, is this server's own (http://<Host>). */
export function checkOrigin(headers: IncomingHttpHeaders): void {
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host ?? ""}`) {
    throw new GuardError(403, MESSAGES.origin);
  }
}

/** A state change: a same-origin Origin (checkOrigin) and the session's X-CSRF-Token. */
export function checkStateChange(headers: IncomingHttpHeaders, session: Session): void {
  checkOrigin(headers);
  const csrf = headers["x-csrf-token"];
  if (typeof csrf !== "string" || !sameSecret(csrf, session.csrf)) {
    throw new GuardError(403, MESSAGES.csrf);
  }
}
