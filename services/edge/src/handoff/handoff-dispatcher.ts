import {
  type ConnMessage,
  encodeMessage,
  MAX_FDS_PER_MESSAGE,
  type ReportMessage,
} from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import type { AcceptedConnection } from "../accept/accepted-connection.js";
import type { Intake } from "../accept/connection-intake.js";
import { type RefusalKind, refuseConnection } from "../policy/refusal.js";
import { WaitingRoom } from "./waiting-room.js";
import type { WorkerRecord, WorkerRegistry } from "./worker-registry.js";

export interface HandoffRequest {
  conn: AcceptedConnection;
  route: string;
  /** The route's role, for the worker to serve by. */
  role?: string | undefined;
  pool: string;
  refusal: RefusalKind;
  intake: Intake;
  /** Given back once, when the connection is over as far as the edge can tell. */
  lease: Lease;
}

export interface Lease {
  release(outcome: string, bytesIn?: number, bytesOut?: number): void;
}

/** A batch stays under the 64 KiB message limit with room for its JSON header. */
const BATCH_MAX_BYTES = 48 * 1024;

interface Queued {
  request: HandoffRequest;
  id: number;
  header: Omit<ConnMessage, "type">;
  tried: Set<string> | undefined;
}

interface ConnRecord {
  workerId: string;
  lease: Lease;
}

/** Waiting for a worker: off unless the edge configures it (`configureWaiting`). */
const NO_WAITING = { waitMs: 0, maxPerPool: 0 };

/**
 * Hands accepted connections to workers: one sendmsg with the fd and the routing bytes, then the
 * edge closes its copy. A failed send goes to the next worker of the pool; with none left the client
 * gets its protocol's refusal. A pool with no worker free at all holds the connection in a waiting
 * room for a bounded time, and the next worker that attaches, recovers or frees a slot takes it.
 * Keeps one small record per handed-off connection until the worker reports it closed or goes away,
 * so route limits and least-connections stay true.
 */
export class HandoffDispatcher {
  private nextId = 1;
  private readonly records = new Map<number, ConnRecord>();
  /** Connections picked for a worker in this turn (one accept batch), sent together at its end. */
  private readonly batches = new Map<WorkerRecord, { items: Queued[]; bytes: number }>();
  private flushScheduled = false;
  private readonly waitingSettings = { ...NO_WAITING };
  private readonly room = new WaitingRoom<HandoffRequest>(this.waitingSettings, (request) =>
    this.refuse(request),
  );

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly logger: Logger,
    /** One sendmsg with several fds per worker and turn (false: one message per connection, as before). */
    private readonly batch = true,
  ) {}

  get openRecords(): number {
    return this.records.size;
  }

  /** Connections waiting for a worker of their pool. */
  get waiting(): number {
    return this.room.size;
  }

  /** How long and how many connections wait for a worker (at start and on reload). */
  configureWaiting(settings: { waitMs: number; maxPerPool: number }): void {
    Object.assign(this.waitingSettings, settings);
  }

  /**
   * A worker of `pool` may be free now (attached, back from unhealthy, a connection ended): hands
   * it the waiting connections, longest-waiting first, while the pool has a worker to take them.
   * Without `pool`, every pool with someone waiting.
   */
  wake(pool?: string): void {
    for (const p of pool === undefined ? this.room.waitingPools() : [pool]) {
      while (this.registry.pick(p)) {
        const request = this.room.take(p);
        if (!request) break;
        this.dispatch(request);
      }
    }
  }

  /** Refuses everyone still waiting (the edge stops). */
  refuseWaiting(): void {
    this.room.clear((request) => this.refuse(request));
  }

  private refuse(request: HandoffRequest): void {
    request.lease.release("no-worker");
    refuseConnection(request.conn, request.intake.http ? "http" : request.refusal);
  }

  dispatch(request: HandoffRequest, tried?: Set<string>): void {
    const { conn, intake } = request;
    const fd = conn.fd;
    if (fd < 0 || conn.isClosed) {
      request.lease.release("closed");
      return;
    }
    const worker = this.registry.pick(request.pool, tried);
    if (!worker?.channel) {
      // A first try waits for a worker; a connection whose sends failed on every worker does not.
      if (tried === undefined && this.room.park(request.pool, request)) return;
      this.refuse(request);
      return;
    }
    const id = this.nextId++;
    const header: Omit<ConnMessage, "type"> = {
      id,
      route: request.route,
      ...(request.role ? { role: request.role } : {}),
      remote: { address: intake.clientIp, port: intake.clientPort },
      local: { address: intake.localIp, port: intake.localPort },
      proxied: intake.proxied,
      ...(intake.sni ? { sni: intake.sni } : {}),
      ...(intake.alpn ? { alpn: intake.alpn } : {}),
      ...(intake.host ? { host: intake.host } : {}),
    };
    // Counted before the send so a burst spreads across workers even while sends are queued.
    worker.conns.add(id);
    if (this.batch) {
      this.enqueue(worker, { request, id, header, tried });
      return;
    }
    this.sendOne(worker, { request, id, header, tried });
  }

  private enqueue(worker: WorkerRecord, item: Queued): void {
    const size = item.request.intake.replay.length + 512;
    let batch = this.batches.get(worker);
    if (batch && (batch.items.length >= MAX_FDS_PER_MESSAGE || batch.bytes + size > BATCH_MAX_BYTES)) {
      this.batches.delete(worker);
      this.sendBatch(worker, batch.items);
      batch = undefined;
    }
    if (!batch) {
      batch = { items: [], bytes: 0 };
      this.batches.set(worker, batch);
    }
    batch.items.push(item);
    batch.bytes += size;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const all = [...this.batches];
    this.batches.clear();
    for (const [worker, batch] of all) this.sendBatch(worker, batch.items);
  };

  /** Several connections in one `conns` message: one sendmsg, one wake-up in the worker. */
  private sendBatch(worker: WorkerRecord, items: Queued[]): void {
    const [first] = items;
    if (items.length === 1 && first) {
      this.sendOne(worker, first);
      return;
    }
    const live = items.filter((q) => {
      if (q.request.conn.fd >= 0 && !q.request.conn.isClosed) return true;
      worker.conns.delete(q.id);
      q.request.lease.release("closed");
      return false;
    });
    if (live.length === 0) return;
    const frame = encodeMessage(
      { type: "conns", conns: live.map((q) => ({ ...q.header, replay: q.request.intake.replay.length })) },
      Buffer.concat(live.map((q) => q.request.intake.replay)),
    );
    const fds = live.map((q) => q.request.conn.fd);
    const channel = worker.channel;
    const failed = (err: Error) => {
      for (const q of live) this.retry(q.request, worker, q.id, q.tried, err);
    };
    let sentNow: boolean;
    try {
      if (!channel) throw new Error("worker channel gone");
      sentNow = channel.send(frame, fds, (err) => {
        if (err) failed(err);
        else for (const q of live) this.handedOff(q.request, worker, q.id);
      });
    } catch (err) {
      failed(err as Error);
      return;
    }
    if (sentNow) for (const q of live) this.handedOff(q.request, worker, q.id);
  }

  private sendOne(worker: WorkerRecord, { request, id, header, tried }: Queued): void {
    const { conn } = request;
    const fd = conn.fd;
    if (fd < 0 || conn.isClosed || !worker.channel) {
      worker.conns.delete(id);
      if (!worker.channel) {
        this.retry(request, worker, id, tried, new Error("worker channel gone"));
        return;
      }
      request.lease.release("closed");
      return;
    }
    const frame = encodeMessage({ type: "conn", ...header }, request.intake.replay);
    let sentNow: boolean;
    try {
      sentNow = worker.channel.send(frame, [fd], (err) => {
        if (err) this.retry(request, worker, id, tried, err);
        else this.handedOff(request, worker, id);
      });
    } catch (err) {
      this.retry(request, worker, id, tried, err as Error);
      return;
    }
    if (sentNow) this.handedOff(request, worker, id);
  }

  private handedOff(request: HandoffRequest, worker: WorkerRecord, id: number): void {
    worker.total++;
    if (!worker.conns.has(id)) {
      // The worker left while the send was queued; the kernel delivered it to a socket now closed.
      request.conn.close();
      request.lease.release("closed");
      return;
    }
    this.records.set(id, { workerId: worker.id, lease: request.lease });
    // Closing our copy of the fd: no FIN, no RST, the worker's copy keeps the connection open.
    request.conn.close();
  }

  private retry(
    request: HandoffRequest,
    worker: WorkerRecord,
    id: number,
    tried: Set<string> | undefined,
    err: Error,
  ) {
    worker.conns.delete(id);
    worker.failedHandoffs++;
    this.logger.warn(
      { err, worker: worker.id, pool: request.pool },
      "handoff failed; trying the next worker",
    );
    const next = tried ?? new Set<string>();
    next.add(worker.id);
    this.dispatch(request, next);
  }

  /** Close reports from a worker. */
  onReport(worker: WorkerRecord, report: ReportMessage): void {
    for (const [id, bytesIn, bytesOut] of report.closed) {
      const record = this.records.get(id);
      if (!record || record.workerId !== worker.id) continue;
      this.records.delete(id);
      worker.conns.delete(id);
      record.lease.release("handed-off", bytesIn, bytesOut);
    }
    // A worker at its capacity has room again.
    if (this.room.size > 0 && report.closed.length > 0) this.wake(worker.pool);
  }

  /** A worker went away: its connections ended with it (or live on in a process we no longer hear from). */
  workerGone(worker: WorkerRecord): void {
    for (const id of worker.conns) {
      const record = this.records.get(id);
      if (!record) continue;
      this.records.delete(id);
      record.lease.release("handed-off");
    }
    worker.conns.clear();
  }
}
