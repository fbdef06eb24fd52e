import type { Socket } from "node:dgram";
import type { Answerer } from "../answer/answerer.js";
import { type ResponseRateLimiter, Verdict } from "../answer/rate-limiter.js";
import { type Responder, slip } from "../answer/responder.js";
import type { LatencyRecorder } from "../latency-histogram.js";

export interface UdpOptions {
  /** What answers: the authoritative responder, or the forwarder in front of it. */
  answerer: () => Answerer;
  /** The authoritative responder behind it (a batch copies its datagrams when a forwarder is in front). */
  responder: () => Responder;
  limiter?: () => ResponseRateLimiter;
  latency?: LatencyRecorder;
}

/**
 * The answer to one datagram. Authoritative responses pass the rate limiter: sent, slipped (sent
 * truncated, TC=1) or dropped (undefined). Forwarded ones (trusted clients only, names outside the
 * zones) come as a promise, not limited.
 */
export function answerDatagram(
  answerer: Answerer,
  msg: Buffer,
  address: string,
  options: UdpOptions,
): Buffer | undefined | Promise<Buffer | undefined> {
  const out = answerer.respond(msg, true, address);
  if (out === undefined || out instanceof Promise) return out;
  const rrl = options.limiter?.();
  if (!rrl?.enabled) return out.bytes;
  const verdict = rrl.check(address, out.answerClass);
  if (verdict === Verdict.DROP) return undefined;
  if (verdict === Verdict.SLIP) return slip(msg, out);
  return out.bytes;
}

/** Answers datagrams on a dgram socket shared with the other replicas (the edge bound it). */
export function serveUdp(socket: Socket, options: UdpOptions): void {
  const { answerer, latency } = options;
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    const out = answerDatagram(answerer(), msg, rinfo.address, options);
    if (out instanceof Promise) {
      out.then(
        (r) => r && socket.send(r, rinfo.port, rinfo.address),
        () => {},
      );
      return;
    }
    if (out) socket.send(out, rinfo.port, rinfo.address);
    latency?.observe((performance.now() - started) / 1000);
  });
  socket.on("error", () => {
    // A send to an unreachable client; the socket stays usable.
  });
}
