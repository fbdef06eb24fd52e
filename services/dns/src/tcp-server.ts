import type { Socket } from "node:net";
import type { Histogram } from "prom-client";
import type { Answerer } from "./forwarder.js";

export interface TcpOptions {
  /** Close a connection that sent nothing for this long (RFC 7766 6.2.3). */
  idleTimeoutMs: number;
  /** The client's address as the edge saw it (for forwarding to trusted networks). */
  client?: string;
}

/**
 * One DNS-over-TCP connection (RFC 7766): 2-octet length prefix, any number of pipelined queries,
 * split or batched across segments; the answers of one read go out in one write, in order.
 */
export function serveTcp(
  socket: Socket,
  responder: () => Answerer,
  options: TcpOptions,
  latency?: Histogram.Internal<"transport">,
): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  let inFlight = 0;
  let ended = false;
  socket.on("end", () => {
    ended = true;
    if (inFlight === 0) socket.end();
  });
  socket.on("data", (chunk: Buffer) => {
    const started = performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    let later: Promise<Buffer | undefined>[] | undefined;
    let pos = 0;
    while (pending.length - pos >= 2) {
      const len = pending.readUInt16BE(pos);
      if (pending.length - pos - 2 < len) break;
      const answer = responder().respond(pending.subarray(pos + 2, pos + 2 + len), false, options.client);
      pos += 2 + len;
      if (answer instanceof Promise) {
        later ??= [];
        later.push(answer);
      } else if (answer) out.push(prefixOf(answer), answer);
    }
    pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    if (out.length > 0) {
      socket.write(Buffer.concat(out));
      latency?.observe((performance.now() - started) / 1000);
    }
    // Forwarded answers go out when they come (RFC 7766 6.2.1.1 allows any order).
    if (later) {
      inFlight++;
      Promise.all(later).then(
        (answers) => {
          inFlight--;
          const ready = answers.filter((a): a is Buffer => a !== undefined).flatMap((a) => [prefixOf(a), a]);
          if (ready.length > 0 && !socket.destroyed) socket.write(Buffer.concat(ready));
          if (ended && inFlight === 0) socket.end();
        },
        () => socket.destroy(),
      );
    }
  });
}

function prefixOf(answer: Buffer): Buffer {
  const prefix = Buffer.allocUnsafe(2);
  prefix.writeUInt16BE(answer.length, 0);
  return prefix;
}
