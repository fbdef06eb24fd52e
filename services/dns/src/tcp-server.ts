import type { Socket } from "node:net";
import type { LatencyRecorder } from "./latency-histogram.js";
import type { Responder } from "./responder.js";

export interface TcpOptions {
  /** Close a connection that sent nothing for this long (RFC 7766 6.2.3). */
  idleTimeoutMs: number;
}

/**
 * One DNS-over-TCP connection (RFC 7766): 2-octet length prefix, any number of pipelined queries,
 * split or batched across segments; the answers of one read go out in one write, in order.
 */
export function serveTcp(
  socket: Socket,
  responder: () => Responder,
  options: TcpOptions,
  latency?: LatencyRecorder,
): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("end", () => socket.end());
  socket.on("data", (chunk: Buffer) => {
    const started = performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    let pos = 0;
    while (pending.length - pos >= 2) {
      const len = pending.readUInt16BE(pos);
      if (pending.length - pos - 2 < len) break;
      const answer = responder().respond(pending.subarray(pos + 2, pos + 2 + len), false);
      pos += 2 + len;
      if (!answer) continue;
      const framed = Buffer.allocUnsafe(answer.length + 2);
      framed.writeUInt16BE(answer.length, 0);
      answer.copy(framed, 2);
      out.push(framed);
    }
    pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    if (out.length > 0) {
      // A client that does not read its answers gets no more of them read for it (bounded memory).
      if (!socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out))) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
      latency?.observe((performance.now() - started) / 1000);
    }
  });
}
