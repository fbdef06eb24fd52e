import type { IncomingHttpHeaders } from "node:http";
import * as http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { ConnectionSlot } from "../limits/connection-slot.js";
import type { ConnectionFacts } from "../proxy/handle-request.js";
import { type Exchange, http2Exchange } from "./exchange.js";

const { constants } = http2;

export interface Http2Limits {
  maxHeaderBytes: number;
  maxHeaders: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  maxStreams: number;
  maxStreamsPerSecond: number;
  upstreamTimeoutMs: number;
}

export interface Http2FrontOptions {
  limits: () => Http2Limits;
  request: (ex: Exchange) => void;
  /** A stream or session refused (431, stream rate), for metrics and the log. */
  refused: (status: number, reason: string) => void;
}

/** After GOAWAY: the client has this long to finish and close. */
const LINGER_MS = 1000;

/**
 * HTTP/2 on a TLS socket that agreed on h2: one server session per connection
 * (http2.performServerHandshake), its streams handed to the proxy as exchanges. Bounded: the first
 * HEADERS within headerTimeoutMs of the handshake, an idle session closes after idleTimeoutMs, at
 * most maxStreams at once (SETTINGS) and maxStreamsPerSecond opened (rapid reset: GOAWAY
 * ENHANCE_YOUR_CALM), header lists bounded in size and count (nghttp2 also bounds CONTINUATION
 * floods and invalid frames).
 */
export function serveHttp2(
  tls: TLSSocket,
  slot: ConnectionSlot,
  facts: ConnectionFacts,
  options: Http2FrontOptions,
): void {
  const limits = options.limits();
  const session = http2.performServerHandshake(tls, {
    settings: { maxConcurrentStreams: limits.maxStreams, maxHeaderListSize: limits.maxHeaderBytes },
    // Room over maxHeaders (checked below, answered 431); nghttp2 resets streams past this.
    maxHeaderListPairs: limits.maxHeaders * 2 + 4,
    maxSessionMemory: 10,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });
  let streams = 0;
  let windowStart = 0;
  let windowStreams = 0;
  let calmed = false;
  // Once either side has said GOAWAY, a session with no stream left is over: it gets LINGER_MS to
  // close, not the idle deadline. Before, a client that sent GOAWAY and left its connection open
  // held its slot until idleTimeoutMs, and a drain waited 10 s (= the drain timeout) for idle
  // sessions (src/e2e/h2-goaway.e2e.test.ts).
  let goneAway = false;
  const closeWhenIdle = () => {
    if (streams === 0) slot.deadline("closing", "closing", LINGER_MS);
  };
  let drained = false;
  slot.drain = () => {
    if (drained) return;
    drained = true;
    facts.draining = true;
    goneAway = true;
    // The session's preface came (or it was serving already): no grace needed any more.
    slot.cancel("drain");
    // In-flight streams get LINGER_MS × 5 (under the worker's drain timeout) to finish.
    slot.deadline("closing", "closing", streams === 0 ? LINGER_MS : LINGER_MS * 5);
    if (session.closed || session.destroyed) return;
    // One round trip first: the ack of a PING comes after every stream the client opened before it
    // saw the PING, so the GOAWAY close() sends then (NO_ERROR, the last stream taken) refuses none
    // of them, and they finish. (A GOAWAY naming stream 2^31-1 first, RFC 9113 §6.8's notice, would
    // do the same, but nghttp2 takes any GOAWAY but its own shutdown notice, which node does not
    // expose, as final: streams arriving after it were dropped, curl's request among them.)
    const close = () => {
      if (!session.closed && !session.destroyed) session.close();
    };
    if (!session.ping(close)) close();
  };
  // Handed over while the worker drains: served as any, but told at once, after the client's
  // preface and SETTINGS, that the session ends (the stream it sent with them is still taken).
  if (facts.draining) session.once("remoteSettings", () => slot.drain());
  session.on("goaway", () => {
    goneAway = true;
    closeWhenIdle();
  });
  session.on("error", () => tls.destroy());
  session.once("close", () => {
    slot.deadline("closing", "closing", LINGER_MS);
    tls.destroy();
  });
  session.on("stream", (stream: http2.ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    // Every stream's errors end the stream only (a refused or reset stream emits one).
    stream.on("error", () => {});
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      windowStreams = 0;
    }
    if (++windowStreams > limits.maxStreamsPerSecond || calmed) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      if (!calmed) {
        calmed = true;
        options.refused(429, "stream rate");
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        slot.deadline("closing", "closing", LINGER_MS);
      }
      return;
    }
    slot.cancel("header");
    slot.cancel("idle");
    // Opened while the drain's PING is out: the in-flight allowance, not the linger.
    if (drained) slot.deadline("closing", "closing", LINGER_MS * 5);
    streams++;
    stream.once("close", () => {
      if (--streams > 0) return;
      if (goneAway) closeWhenIdle();
      else slot.deadline("idle", "idle", limits.idleTimeoutMs, () => session.close());
    });
    if (Object.keys(headers).length > limits.maxHeaders + 4) {
      options.refused(431, "too many header fields");
      stream.respond({ ":status": 431, "content-type": "text/plain; charset=utf-8" });
      stream.end("431 too many header fields\n");
      return;
    }
    options.request(http2Exchange(stream, headers));
  });
  slot.deadline("header", "header", limits.headerTimeoutMs, () => session.destroy());
}
