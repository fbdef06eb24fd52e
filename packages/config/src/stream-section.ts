import { z } from "zod";
import { hostPort } from "./primitives.js";

/**
 * The stream section: where the stream pool (services/stream) serves its admin gRPC and metrics.
 * The routes it relays are the `forward` routes (routes[].action.type forward); this section only
 * tunes the workers. Always present (defaults), so a config with forward routes needs nothing more.
 */
export const streamSectionSchema = z.strictObject({
  grpc: hostPort.default("127.0.0.1:10960"),
  metrics: hostPort.default("127.0.0.1:10961"),
  /** How a TCP forward's bytes move: `splice` (native, no byte in JavaScript) or `pipe` (Node streams). */
  relay: z.enum(["splice", "pipe"]).default("splice"),
  /** Splice relay threads per worker (connections go to the least busy); unset: one per CPU. */
  relayThreads: z.number().int().min(1).max(64).optional(),
  /** A target that refused or timed out is skipped for this long (then tried again). */
  targetRetryMs: z.number().int().min(100).max(600_000).default(5000),
  /**
   * How a UDP forward's datagrams move: `batch` (recvmmsg on the shared socket, upstream sockets and
   * replies in native code: packages/udp-batch) or `dgram` (node:dgram, a datagram per call).
   * Read at start; a reload keeps the running one.
   */
  udp: z.enum(["batch", "dgram"]).default("batch"),
});

export type StreamSection = z.infer<typeof streamSectionSchema>;
