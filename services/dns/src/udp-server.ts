import type { Socket } from "node:dgram";
import type { LatencyRecorder } from "./latency-histogram.js";
import { type ResponseRateLimiter, Verdict } from "./rate-limiter.js";
import type { Responder } from "./responder.js";

/**
 * Answers datagrams on a socket shared with the other replicas (the edge bound it). Responses pass
 * the rate limiter: sent, slipped (sent truncated, TC=1) or dropped.
 */
export function serveUdp(
  socket: Socket,
  responder: () => Responder,
  latency?: LatencyRecorder,
  limiter?: () => ResponseRateLimiter,
): void {
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    const r = responder();
    let out = r.respond(msg, true);
    const rrl = limiter?.();
    if (out && rrl?.enabled) {
      const verdict = rrl.check(rinfo.address, r.lastClass);
      if (verdict === Verdict.DROP) out = undefined;
      else if (verdict === Verdict.SLIP) out = r.respond(msg, true, true);
    }
    if (out) socket.send(out, rinfo.port, rinfo.address);
    latency?.observe((performance.now() - started) / 1000);
  });
  socket.on("error", () => {
    // A send to an unreachable client; the socket stays usable.
  });
}
