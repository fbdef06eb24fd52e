import { countOpenFds } from "@switchyard/handoff";
import type { edgeV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import type { Edge } from "./edge.js";
import type { WorkerRecord } from "./handoff/worker-registry.js";

export interface EdgeServiceDeps {
  edge: Edge;
  /** Reads and validates the config file again and applies it; throws ConfigError when it is refused. */
  reload: () => Promise<void>;
  /** Starts an edge upgrade; resolves with the successor's pid once it holds the sockets. */
  upgrade?: () => Promise<{ pid: number }>;
}

function toWorker(w: WorkerRecord): edgeV1.Worker {
  return {
    id: w.id,
    role: w.role,
    pool: w.pool,
    instance: w.instance,
    pid: w.pid,
    state: w.state,
    capacity: w.capacity,
    activeConnections: w.conns.size,
    totalConnections: w.total,
    failedHandoffs: w.failedHandoffs,
    registeredAtMs: w.registeredAt,
    lastHeartbeatMs: w.lastHeartbeat,
  };
}

/** EdgeControl: what workers call to join and stay in a pool. */
export function createEdgeControl({
  edge,
}: EdgeServiceDeps): ServiceImplementation<edgeV1.EdgeControlService> {
  const { registry } = edge;
  return {
    register(request) {
      if (!request.pool) throw grpcError(status.INVALID_ARGUMENT, "pool is required");
      if (!request.role) throw grpcError(status.INVALID_ARGUMENT, "role is required");
      const worker = registry.register({
        role: request.role,
        pool: request.pool,
        capacity: request.capacity,
        instance: request.instance,
        pid: request.pid,
      });
      return {
        workerId: worker.id,
        handoffPath: edge.handoff.path,
        token: worker.token ?? "",
        heartbeatIntervalMs: edge.currentConfig.edge.workers.heartbeatIntervalMs,
      };
    },
    heartbeat(request) {
      const worker = registry.heartbeat(request.workerId);
      return { known: worker !== undefined, drain: worker?.drainRequested ?? false };
    },
    deregister(request) {
      const worker = registry.get(request.workerId);
      if (worker) {
        // Out of rotation now; its channel closing removes it and its records.
        registry.drain(worker.id);
        worker.channel?.close();
      }
      return {};
    },
  };
}

/** EdgeAdmin: what operators (yardctl) call. */
export function createEdgeAdmin({
  edge,
  reload,
  upgrade,
}: EdgeServiceDeps): ServiceImplementation<edgeV1.EdgeAdminService> {
  return {
    listWorkers(request) {
      return { workers: edge.registry.list(request.pool || undefined).map(toWorker) };
    },
    listRoutes() {
      return {
        routes: edge.routes.map((r) => ({
          name: r.name,
          ports: [...r.ports],
          protocol: r.protocol,
          domains: r.config.match.domains,
          paths: r.config.match.paths,
          clientIps: r.config.match.clientIps,
          action: r.action.type,
          target:
            r.action.type === "handoff"
              ? r.action.pool
              : r.action.type === "forward"
                ? `${r.action.host}:${r.action.port}${r.config.engine === "nftables" ? " (nftables)" : ""}`
                : "",
          source: r.origin,
          role: r.role ?? "",
        })),
      };
    },
    async getStats() {
      const records = edge.openRecords;
      return {
        routes: edge.stats.snapshot(),
        workers: edge.registry.list().map((w) => ({
          workerId: w.id,
          pool: w.pool,
          active: w.conns.size,
          total: w.total,
          failedHandoffs: w.failedHandoffs,
        })),
        connectionsPending: records.pending,
        handoffRecords: records.handedOff,
        // Forward routes are carried by the stream pool now: the edge holds none (field kept for clients).
        forwarded: 0,
        admissionEntries: records.admission,
        openFds: await countOpenFds(),
        uptimeMs: Date.now() - edge.startedAt,
      };
    },
    drainWorker(request) {
      const state = edge.drainWorker(request.workerId, { replace: request.replace });
      if (!state) throw grpcError(status.NOT_FOUND, `no worker ${JSON.stringify(request.workerId)}`);
      return { state };
    },
    async reload() {
      try {
        await reload();
        return { routes: edge.routes.length, errors: [] };
      } catch (err) {
        const problems = (err as { problems?: readonly string[] }).problems;
        return { routes: edge.routes.length, errors: problems ? [...problems] : [(err as Error).message] };
      }
    },
    async upgrade() {
      if (!upgrade) throw grpcError(status.UNIMPLEMENTED, "this edge cannot upgrade itself");
      try {
        const { pid } = await upgrade();
        return { oldPid: process.pid, newPid: pid };
      } catch (err) {
        throw grpcError(status.FAILED_PRECONDITION, (err as Error).message);
      }
    },
  };
}
