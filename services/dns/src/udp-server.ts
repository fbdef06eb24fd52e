import type { Socket } from "node:dgram";
import type { Answerer } from "./forwarder.js";
import type { LatencyRecorder } from "./latency-histogram.js";
import { type ResponseRateLimiter, Verdict } from "./rate-limiter.js";
import type { Responder } from "./responder.js";

export interface UdpOptions {
  /** What answers: the authoritative responder, or the forwarder in front of it. */
  answerer: () => Answerer;
  /** The authoritative responder behind it: the rate limiter reads its answer class and slip. */
  responder: () => Responder;
  limiter?: () => ResponseRateLimiter;
  latency?: LatencyRecorder;
}

/**
 * Answers datagrams on a socket shared with the other replicas (the edge bound it). Authoritative
 * responses pass the rate limiter: sent, slipped (sent truncated, TC=1) or dropped. Forwarded ones
 * (trusted clients only, names outside the zones) go out when the upstream answers, not limited.
 */
export function serveUdp(socket: Socket, options: UdpOptions): void {
  const { answerer, responder, limiter, latency } = options;
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    let out = answerer().respond(msg, true, rinfo.address);
    if (out instanceof Promise) {
      out.then(
        (r) => r && socket.send(r, rinfo.port, rinfo.address),
        () => {},
      );
      return;
    }
    const rrl = limiter?.();
    if (out && rrl?.enabled) {
      // Read right after respond: the answer class of this very response.
      const r = responder();
      const verdict = rrl.check(rinfo.address, r.lastClass);
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
