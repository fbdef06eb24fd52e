/**
 * Console sessions: a login with the admin token gets a random session id (sent back as a bearer
 * token, kept in the page's memory only) and a CSRF token the page sends on every state change.
 */
import { randomBytes } from "node:crypto";

export interface Session {
  id: string;
  csrf: string;
  expiresAt: number;
}

export interface SessionStoreOptions {
  /** How long a session lives after its last use. Default 8 hours. */
  idleMs?: number;
  /** At most this many sessions; the oldest goes first. Default 64. */
  max?: number;
  now?: () => number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.idleMs = options.idleMs ?? 8 * 3600_000;
    this.max = options.max ?? 64;
    this.now = options.now ?? Date.now;
  }

  create(): Session {
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const session = {
      id: randomBytes(32).toString("base64url"),
      csrf: randomBytes(32).toString("base64url"),
      expiresAt: this.now() + this.idleMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, its lifetime extended; undefined when unknown or expired. */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    session.expiresAt = this.now() + this.idleMs;
    // Map order is insertion order: move it to the end so eviction takes the least recently used.
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}
