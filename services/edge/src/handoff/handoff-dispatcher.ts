import { encodeMessage, type ReportMessage } from "@switchyard/handoff";
import type { Logger } from "@switchyard/runtime";
import type { AcceptedConnection } from "../accept/accepted-connection.js";
import type { Intake } from "../accept/connection-intake.js";
import { type RefusalKind, refuseConnection } from "../policy/refusal.js";
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

interface ConnRecord {
  workerId: string;
  lease: Lease;
}

/**
 * Hands accepted connections to workers: one sendmsg with the fd and the routing bytes, then the
 * edge closes its copy. A failed send goes to the next worker of the pool; with none left the client
 * gets its protocol's refusal. Keeps one small record per handed-off connection until the worker
 * reports it closed or goes away, so route limits and least-connections stay true.
 */
export class HandoffDispatcher {
  private nextId = 1;
  private readonly records = new Map<number, ConnRecord>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly logger: Logger,
  ) {}

  get openRecords(): number {
    return this.records.size;
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
      request.lease.release("no-worker");
      refuseConnection(conn, intake.http ? "http" : request.refusal);
      return;
    }
    const id = this.nextId++;
    const frame = encodeMessage(
      {
        type: "conn",
        id,
        route: request.route,
        ...(request.role ? { role: request.role } : {}),
        remote: { address: intake.clientIp, port: intake.clientPort },
        local: { address: intake.localIp, port: intake.localPort },
        proxied: intake.proxied,
        ...(intake.sni ? { sni: intake.sni } : {}),
        ...(intake.alpn ? { alpn: intake.alpn } : {}),
        ...(intake.host ? { host: intake.host } : {}),
      },
      intake.replay,
    );
    // Counted before the send so a burst spreads across workers even while sends are queued.
    worker.conns.add(id);
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
