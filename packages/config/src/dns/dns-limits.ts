import { z } from "zod";
import { cidr } from "../primitives.js";

/**
 * DNS over TCP and DoH connections, per replica (both share these slots and deadlines). No deadline
 * is reset by bytes: a client that dribbles a query or a request head is closed when it passes.
 */
export const dnsTcpSchema = z.strictObject({
  /** Connections a replica holds at once; past it, new ones are closed at once (RFC 7766 6.2.2). */
  maxConnections: z.number().int().min(1).max(1_000_000).default(1000),
  /** Connections one client holds at once (IPv4 address, IPv6 /64); past it, new ones are closed. */
  maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(64),
  /**
   * Between DNS/TCP queries, or an HTTP/2 DoH session without an open stream: closed after this long
   * (RFC 7766 6.2.3).
   */
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
  /** A whole DNS/TCP query (length prefix and message) from its first byte (Knot's tcp-io-timeout). */
  queryTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
  /**
   * DoH: the TLS handshake and the first request head from the connection's start; each next
   * HTTP/1.1 request head from the previous response; each HTTP/2 stream from its HEADERS to its
   * response. Past it: the connection closes (HTTP/2: the stream is reset).
   */
  requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** Any connection closes this long after it arrived, whatever it does. */
  sessionTimeoutMs: z.number().int().min(1000).max(86_400_000).default(300_000),
  /** DoH over HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxStreams: z.number().int().min(1).max(10_000).default(100),
  /** DoH over HTTP/2: a session opening more streams in a second (reset ones too) gets GOAWAY ENHANCE_YOUR_CALM. */
  maxStreamsPerSecond: z.number().int().min(1).max(1_000_000).default(500),
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
