import type { Socket } from "node:dgram";
import type { Histogram } from "prom-client";
import type { Responder } from "./responder.js";

/** Answers datagrams on a socket shared with the other replicas (the edge bound it). */
export function serveUdp(
  socket: Socket,
  responder: () => Responder,
  latency?: Histogram.Internal<"transport">,
): void {
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    const out = responder().respond(msg, true);
    if (out) socket.send(out, rinfo.port, rinfo.address);
    latency?.observe((performance.now() - started) / 1000);
  });
  socket.on("error", () => {
    // A send to an unreachable client; the socket stays usable.
  });
}
