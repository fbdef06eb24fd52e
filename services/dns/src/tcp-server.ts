import type { Socket } from "node:net";
import type { Answerer } from "./forwarder.js";
import type { LatencyRecorder } from "./latency-histogram.js";

export interface TcpOptions {
  /** Close a connection that sent nothing for this long (RFC 7766 6.2.3). */
  idleTimeoutMs: number;
  /** The client's address as the edge saw it (for forwarding to trusted networks). */
  client?: string;
}

/** Forwarded questions one connection may have waiting for upstreams before its reads pause. */
const MAX_DEFERRED = 100;

/**
 * One DNS-over-TCP connection (RFC 7766): 2-octet length prefix, any number of pipelined queries,
 * split or batched across segments. The authoritative answers of one read go out in one write, in
 * order; forwarded ones each when their upstream answers (6.2.1.1 allows any order). Reading pauses
 * while the client does not read its answers, or while too many forwarded ones are outstanding, so
 * one connection holds bounded memory.
 */
export function serveTcp(
  socket: Socket,
  answerer: () => Answerer,
  options: TcpOptions,
  latency?: LatencyRecorder,
): void {
  let pending: Buffer = Buffer.alloc(0);
  let deferred = 0;
  let ended = false;
  let writeBlocked = false;
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("end", () => {
    ended = true;
    if (deferred === 0) socket.end();
  });

  const flow = () => {
    if (writeBlocked || deferred >= MAX_DEFERRED) socket.pause();
    else if (socket.isPaused()) socket.resume();
  };
  const send = (data: Buffer) => {
    if (socket.destroyed || socket.writableEnded) return;
    if (!socket.write(data) && !writeBlocked) {
      writeBlocked = true;
      socket.once("drain", () => {
        writeBlocked = false;
        flow();
      });
    }
  };
  const later = (answer: Promise<Buffer | undefined>) => {
    deferred++;
    const settle = (a: Buffer | undefined) => {
      deferred--;
      if (a) send(frame(a));
      if (ended && deferred === 0) socket.end();
      else flow();
    };
    // A forwarder that fails outside its upstream handling: the client learns at once, not by timeout.
    answer.then(settle, () => socket.destroy());
  };

  socket.on("data", (chunk: Buffer) => {
    const started = performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    let pos = 0;
    while (pending.length - pos >= 2) {
      const len = pending.readUInt16BE(pos);
      if (pending.length - pos - 2 < len) break;
      const answer = answerer().respond(pending.subarray(pos + 2, pos + 2 + len), false, options.client);
      pos += 2 + len;
      if (answer instanceof Promise) later(answer);
      else if (answer) out.push(frame(answer));
    }
    pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    if (out.length > 0) {
      send(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
      latency?.observe((performance.now() - started) / 1000);
    }
    flow();
  });
}

/** The answer with its 2-octet length prefix, in one buffer (one write, one segment). */
function frame(answer: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(answer.length + 2);
  framed.writeUInt16BE(answer.length, 0);
  answer.copy(framed, 2);
  return framed;
}
