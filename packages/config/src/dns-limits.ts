import { z } from "zod";

/** DNS over TCP, per replica: how many connections at once, and how long one may stay idle. */
export const dnsTcpSchema = z.strictObject({
  /** Connections a replica holds at once; past it, new ones are closed at once (RFC 7766 6.2.2). */
  maxConnections: z.number().int().min(1).max(1_000_000).default(1000),
  /** A connection that sends nothing for this long is closed (RFC 7766 6.2.3). */
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
});
