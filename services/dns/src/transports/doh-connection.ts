import { constants, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { ConnectionSlot } from "./connection-slots.js";

/** The `dns.tcp` deadlines and caps DoH connections keep (read per connection and stream). */
export interface DohLimits {
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  maxStreams: number;
  maxStreamsPerSecond: number;
}

/** A DoH connection's state, found again from the TLS socket and HTTP/2 session Node hands out. */
export interface DohConnection {
  slot: ConnectionSlot;
  session?: Http2Session;
  streams: number;
  windowStart: number;
  windowStreams: number;
  /** Sent GOAWAY ENHANCE_YOUR_CALM: every further stream is refused. */
  calmed?: boolean;
}

/** After the HTTP/2 session or an HTTP/1.1 refusal ended: the client has this long to close. */
export const LINGER_MS = 1000;

export type Http1Request = { complete: boolean };
export type Http1Response = { once(event: "finish", f: () => void): unknown };

/** HTTP/1.1: the request's body and answer, then the next head, each within requestTimeoutMs. */
export function limitHttp1Request(
  conn: DohConnection,
  socket: Socket,
  req: Http1Request,
  res: Http1Response,
  requestTimeoutMs: number,
): void {
  conn.slot.cancel("request");
  conn.slot.deadline("request", "request", requestTimeoutMs);
  res.once("finish", () => {
    if (req.complete) return conn.slot.deadline("request", "request", requestTimeoutMs);
    // Answered before the body was read (413, 415): close rather than read the rest.
    conn.slot.cancel("request");
    conn.slot.deadline("closing", "closing", LINGER_MS);
    socket.end();
  });
}

/**
 * HTTP/2: each stream answered within requestTimeoutMs (else reset); a session without streams
 * idles out; over maxStreamsPerSecond, GOAWAY ENHANCE_YOUR_CALM (`calmed` told once).
 */
export function limitHttp2Stream(
  conn: DohConnection,
  stream: ServerHttp2Stream,
  limits: DohLimits,
  calmed: () => void,
): void {
  const { slot } = conn;
  const now = performance.now();
  if (now - conn.windowStart >= 1000) {
    conn.windowStart = now;
    conn.windowStreams = 0;
  }
  if (++conn.windowStreams > limits.maxStreamsPerSecond || conn.calmed) {
    if (!conn.calmed) calmed();
    // GOAWAY first (a destroyed session might not get it out), then the connection goes.
    stream.close(constants.NGHTTP2_REFUSED_STREAM);
    if (!conn.calmed) {
      conn.calmed = true;
      stream.session?.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      slot.deadline("closing", "closing", LINGER_MS);
    }
    return;
  }
  slot.cancel("request");
  slot.cancel("idle");
  conn.streams++;
  const key = `stream:${stream.id}`;
  slot.deadline(key, "stream", limits.requestTimeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
  stream.once("close", () => {
    slot.cancel(key);
    if (--conn.streams === 0) slot.deadline("idle", "idle", limits.idleTimeoutMs);
  });
  // A response sent before the request's body was read (413, 415): reset the rest (RFC 9113 8.1).
  stream.once("finish", () => {
    if (stream.closed || stream.endAfterHeaders || stream.readableEnded) return;
    // Still open from the client's side (not half-closed remote): it is sending a body we refused.
    const { state } = stream.state;
    if (
      state === constants.NGHTTP2_STREAM_STATE_OPEN ||
      state === constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL
    )
      stream.close(constants.NGHTTP2_NO_ERROR);
  });
}

/** The key a connection is found by: the client's address and port. */
export function peerKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined
    ? undefined
    : `${remoteAddress}|${remotePort}`;
}
