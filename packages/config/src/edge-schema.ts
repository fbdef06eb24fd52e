import { z } from "zod";
import { cidr, hostPort } from "./primitives.js";

export const edgeSchema = z.strictObject({
  /** Addresses every public listener binds. */
  addresses: z.array(z.string().min(1)).min(1).default(["0.0.0.0", "::"]),
  /** gRPC for EdgeControl (workers) and EdgeAdmin (yardctl). */
  grpc: hostPort.default("127.0.0.1:10900"),
  /** Prometheus /metrics, /healthz, /readyz. */
  metrics: hostPort.default("127.0.0.1:10901"),
  /** The web console (packages/console, its own process beside the edge): loopback unless changed. */
  console: hostPort.default("127.0.0.1:10902"),
  handoff: z
    .strictObject({
      /** The Unix socket workers attach to. */
      socket: z.string().min(1).default(".switchyard/run/handoff.sock"),
      /** File mode of the socket, octal text. */
      mode: z
        .string()
        .regex(/^0?[0-7]{3}$/, { error: "mode is octal text such as 0660" })
        .default("0660"),
      /** Unix user ids allowed to attach besides the edge's own user and root. */
      allowedUids: z.array(z.number().int().min(0)).default([]),
      /** Handoffs waiting for a worker's socket to drain, per worker. */
      maxQueuedPerWorker: z.number().int().min(0).default(1024),
      /**
       * A connection routed to a pool with no worker free to take it (none attached, all draining
       * or at capacity) waits this long for one before its protocol's refusal (HAProxy's `timeout
       * queue`): replacing a pool of one, or a compose recreate of its container, refuses nothing.
       * 0 refuses at once.
       */
      waitForWorkerMs: z.number().int().min(0).max(120_000).default(10_000),
      /** Most connections waiting for a worker, per pool; beyond it they are refused at once. */
      maxWaitingPerPool: z.number().int().min(0).max(100_000).default(1024),
    })
    .prefault({}),
  proxyProtocol: z
    .strictObject({
      /** Peers allowed to send a PROXY v1/v2 header; from anyone else a header is refused. */
      trusted: z.array(cidr).default([]),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** A client must send what routing needs (PROXY header, ClientHello, request head) within this time. */
      routingTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
      /** Most bytes read to route a connection. */
      maxRoutingBytes: z.number().int().min(512).max(65_536).default(16_384),
      /** Most open connections from one client address across all routes; 0: no limit. */
      maxConnectionsPerIp: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /**
   * A config whose route table is empty (no routes, no dns/mail/certs section) is refused at start
   * and on reload, as a truncated file would drop every listener, and so is an edge reload leaving
   * a pool with attached workers without a route; true accepts both on purpose.
   */
  allowEmptyRoutes: z.boolean().default(false),
  /** Global lists, checked before any route's. */
  ipAllowList: z.array(cidr).default([]),
  ipBlockList: z.array(cidr).default([]),
  workers: z
    .strictObject({
      heartbeatIntervalMs: z.number().int().min(100).max(60_000).default(2000),
      /** A worker silent for this long is taken out of rotation. */
      heartbeatTimeoutMs: z.number().int().min(300).max(300_000).default(6000),
    })
    .prefault({}),
});

export type EdgeConfig = z.infer<typeof edgeSchema>;
