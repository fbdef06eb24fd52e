import type { Socket } from "node:dgram";
import type { Answerer } from "./forwarder.js";
import type { LatencyRecorder } from "./latency-histogram.js";
import { type ResponseRateLimiter, Verdict } from "./rate-limiter.js";
import type { Responder } from "./responder.js";

/** What rate limiting needs: the limiter, and the responder that made the answer (its class, its slip). */
export interface UdpRateLimit {
  limiter: () => ResponseRateLimiter;
  responder: () => Responder;
}

/**
 * Answers datagrams on a socket shared with the other replicas (the edge bound it). Authoritative
 * answers pass the rate limiter: sent, slipped (sent truncated, TC=1) or dropped.
 */
export function serveUdp(
  socket: Socket,
  responder: () => Answerer,
  latency?: LatencyRecorder,
  rrl?: UdpRateLimit,
): void {
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    let out = responder().respond(msg, true, rinfo.address);
    if (out instanceof Promise) {
      // Forwarded for a trusted client: answered when the upstream is.
      out.then(
        (r) => r && socket.send(r, rinfo.port, rinfo.address),
        () => {},
      );
      return;
    }
    const limiter = rrl?.limiter();
    if (out && rrl && limiter?.enabled) {
      const r = rrl.responder();
      const verdict = limiter.check(rinfo.address, r.lastClass);
      if (verdict === Verdict.DROP) out = undefined;
      else if (verdict === Verdict.SLIP) out = r.slip(msg);
    }
    if (out) socket.send(out, rinfo.port, rinfo.address);
    latency?.observe((performance.now() - started) / 1000);
  });
  socket.on("error", () => {
    // A send to an unreachable client; the socket stays usable.
  });
}
