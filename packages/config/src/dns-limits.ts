import { z } from "zod";
import { cidr } from "./primitives.js";

/** DNS over TCP, per replica: how many connections at once, and how long one may stay idle. */
export const dnsTcpSchema = z.strictObject({
  /** Connections a replica holds at once; past it, new ones are closed at once (RFC 7766 6.2.2). */
  maxConnections: z.number().int().min(1).max(1_000_000).default(1000),
  /** A connection that sends nothing for this long is closed (RFC 7766 6.2.3). */
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
});

/**
 * How a replica reads the edge's shared UDP socket: in batches (recvmmsg/sendmmsg through the
 * `@switchyard/udp-batch` addon, when it loads) or one datagram per call with Node's dgram.
 */
export const dnsUdpSchema = z.strictObject({
  /** Batched reads and writes when the addon loads; false: always dgram. Read at start. */
  batch: z.boolean().default(true),
  /** Datagrams per recvmmsg/sendmmsg. */
  batchSize: z.number().int().min(1).max(1024).default(32),
});

/**
 * Response rate limiting (UDP only, per replica), as NSD and Knot do it: per client network (IPv4 /24,
 * IPv6 /56) and answer class. Loopback is exempt by default: it cannot be spoofed from outside.
 */
export const dnsRrlSchema = z.strictObject({
  /** Per network and answer class; 0 turns rate limiting off. */
  responsesPerSecond: z.number().int().min(0).max(1_000_000).default(200),
  /** Every Nth limited response goes out truncated (TC=1) so real clients retry over TCP; 0 never. */
  slip: z.number().int().min(0).max(100).default(2),
  /** A network limited for this long without a break is banned (when banSeconds is not 0). */
  windowSeconds: z.number().int().min(1).max(3600).default(15),
  /** Ban length published on NATS `firewall.ban`; 0 publishes none (sources can be spoofed). */
  banSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0),
  exempt: z.array(cidr).default(["127.0.0.0/8", "::1/128"]),
});
