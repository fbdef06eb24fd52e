import type { Socket } from "node:dgram";
import type { Histogram } from "prom-client";
import type { Answerer } from "./forwarder.js";

/** Answers datagrams on a socket shared with the other replicas (the edge bound it). */
export function serveUdp(
  socket: Socket,
  responder: () => Answerer,
  latency?: Histogram.Internal<"transport">,
): void {
  socket.on("message", (msg, rinfo) => {
    const started = performance.now();
    const out = responder().respond(msg, true, rinfo.address);
    if (out instanceof Promise) {
      // Forwarded for a trusted client: answered when the upstream is.
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
