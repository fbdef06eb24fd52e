import { randomBytes } from "node:crypto";
import type { HandoffChannel } from "@switchyard/handoff";

/** "replacing": asked to drain while the last of its pool, takes connections until a successor attaches. */
export type WorkerState = "attaching" | "ready" | "replacing" | "draining" | "unhealthy";

export interface WorkerRecord {
  id: string;
  role: string;
  pool: string;
  instance: string;
  pid: number;
  capacity: number;
  state: WorkerState;
  /** One-time attach token; cleared once used. */
  token: string | null;
  channel: HandoffChannel | null;
  /** Connections handed to the worker and not yet reported closed. */
  conns: Set<number>;
  total: number;
  failedHandoffs: number;
  registeredAt: number;
  lastHeartbeat: number;
  /** An operator asked it to drain (survives heartbeats). */
  drainRequested: boolean;
}

export interface RegisterInput {
  role: string;
  pool: string;
  capacity: number;
  instance: string;
  pid: number;
}

/**
 * Every worker the edge knows, by pool. Picks the least-loaded ready worker for a new connection.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private sequence = 0;

  constructor(private readonly now: () => number = Date.now) {}

  register(input: RegisterInput): WorkerRecord {
    let id: string;
    do id = `${input.pool}-${(++this.sequence).toString(36)}-${randomBytes(3).toString("hex")}`;
    while (this.workers.has(id));
    const at = this.now();
    const record: WorkerRecord = {
      id,
      ...input,
      state: "attaching",
      token: randomBytes(24).toString("hex"),
      channel: null,
      conns: new Set(),
      total: 0,
      failedHandoffs: 0,
      registeredAt: at,
      lastHeartbeat: at,
      drainRequested: false,
    };
    this.workers.set(id, record);
    return record;
  }

  /**
   * A worker the previous edge vouched for during an upgrade: known under its id, waiting to attach
   * with the token the previous edge gave both of us.
   */
  adoptHandedOver(
    input: RegisterInput & { id: string; token: string; drainRequested: boolean },
  ): WorkerRecord {
    const at = this.now();
    const record: WorkerRecord = {
      id: input.id,
      role: input.role,
      pool: input.pool,
      instance: input.instance,
      pid: input.pid,
      capacity: input.capacity,
      state: "attaching",
      token: input.token,
      channel: null,
      conns: new Set(),
      total: 0,
      failedHandoffs: 0,
      registeredAt: at,
      lastHeartbeat: at,
      drainRequested: input.drainRequested,
    };
    this.workers.set(record.id, record);
    return record;
  }

  get(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }

  list(pool?: string): WorkerRecord[] {
    const all = [...this.workers.values()];
    return pool ? all.filter((w) => w.pool === pool) : all;
  }

  /** Marks a worker attached once its token matches; the token cannot be used twice. */
  attach(id: string, token: string, channel: HandoffChannel): WorkerRecord | undefined {
    const record = this.workers.get(id);
    if (!record || record.token === null || !timingSafeEqualText(record.token, token)) return undefined;
    record.token = null;
    record.channel = channel;
    record.state = record.drainRequested ? "draining" : "ready";
    record.lastHeartbeat = this.now();
    return record;
  }

  /** True when no other worker of its pool is ready (or replacing) to take its connections. */
  isLastReady(worker: WorkerRecord): boolean {
    for (const w of this.workers.values())
      if (
        w !== worker &&
        w.pool === worker.pool &&
        w.channel &&
        (w.state === "ready" || w.state === "replacing")
      )
        return false;
    return true;
  }

  /** Marks a worker to drain once a successor of its pool attaches; it takes connections meanwhile. */
  replace(id: string): WorkerRecord | undefined {
    const record = this.workers.get(id);
    if (!record || record.state === "draining") return record;
    record.state = "replacing";
    return record;
  }

  /** Workers of `pool` waiting for a successor, other than `successor`. */
  replaced(pool: string, successor: WorkerRecord): WorkerRecord[] {
    return [...this.workers.values()].filter(
      (w) => w.pool === pool && w !== successor && w.state === "replacing",
    );
  }

  heartbeat(id: string): WorkerRecord | undefined {
    const record = this.workers.get(id);
    if (!record) return undefined;
    record.lastHeartbeat = this.now();
    if (record.state === "unhealthy") record.state = record.drainRequested ? "draining" : "ready";
    // (a replacing worker that missed heartbeats comes back as ready: replace again if needed)
    return record;
  }

  drain(id: string): WorkerRecord | undefined {
    const record = this.workers.get(id);
    if (!record) return undefined;
    record.drainRequested = true;
    if (record.state !== "attaching") record.state = "draining";
    return record;
  }

  remove(id: string): WorkerRecord | undefined {
    const record = this.workers.get(id);
    this.workers.delete(id);
    return record;
  }

  /** The ready worker of the pool with the fewest open connections, skipping `exclude`. */
  pick(pool: string, exclude?: ReadonlySet<string>): WorkerRecord | undefined {
    let best: WorkerRecord | undefined;
    for (const w of this.workers.values()) {
      if (w.pool !== pool || (w.state !== "ready" && w.state !== "replacing") || w.channel === null) continue;
      if (exclude?.has(w.id)) continue;
      if (w.capacity > 0 && w.conns.size >= w.capacity) continue;
      if (!best || w.conns.size < best.conns.size) best = w;
    }
    return best;
  }

  /**
   * Takes silent workers out of rotation, and forgets registrations that never attached.
   * Returns the ids it forgot.
   */
  sweep(heartbeatTimeoutMs: number, attachTimeoutMs: number): string[] {
    const now = this.now();
    const forgotten: string[] = [];
    for (const w of this.workers.values()) {
      if (w.state === "attaching") {
        if (now - w.registeredAt > attachTimeoutMs) forgotten.push(w.id);
      } else if (w.state !== "unhealthy" && now - w.lastHeartbeat > heartbeatTimeoutMs) {
        w.state = "unhealthy";
      }
    }
    for (const id of forgotten) this.workers.delete(id);
    return forgotten;
  }

  get size(): number {
    return this.workers.size;
  }
}

function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
