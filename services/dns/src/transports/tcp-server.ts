import type { Socket } from "node:net";
import { type Answerer, bytesOf } from "../answer/answerer.js";
import type { LatencyRecorder } from "../latency-histogram.js";
import type { ConnectionSlot } from "./connection-slots.js";

export interface TcpOptions {
  /** Close a connection that started no query for this long (RFC 7766 6.2.3). */
  idleTimeoutMs: number;
  /** Close a connection whose query (length prefix and message) is not whole this long after its first byte. */
  queryTimeoutMs: number;
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
 * one connection holds bounded memory. Deadlines (on the slot, so they end with it): idle between
 * queries, and a whole query from its first byte; dribbled bytes restart neither.
 */
export function serveTcp(
  socket: Socket,
  slot: ConnectionSlot,
  answerer: () => Answerer,
  options: TcpOptions,
  latency?: LatencyRecorder,
): void {
  let pending: Buffer = Buffer.alloc(0);
  let deferred = 0;
  let ended = false;
  let writeBlocked = false;
  socket.setNoDelay(true);
  // A client that half-closes after its last query is owed every answer still forwarded: without
  // this, node ends the writable side the moment the client's FIN arrives (allowHalfOpen false) and
  // those answers are dropped. The "end" handler below ends the connection after the last one.
  socket.allowHalfOpen = true;
  const idle = () => {
    if (!slot.has("query")) slot.deadline("idle", "idle", options.idleTimeoutMs);
  };
  idle();
  socket.on("error", () => socket.destroy());
  socket.on("end", () => {
    ended = true;
    if (deferred === 0) socket.end();
  });
  // Draining: the answers still owed go out, then FIN.
  slot.drain = () => {
    ended = true;
    if (deferred === 0) socket.end();
  };

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
      idle();
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
      const answer = bytesOf(
        answerer().respond(pending.subarray(pos + 2, pos + 2 + len), false, options.client),
      );
      pos += 2 + len;
      if (answer instanceof Promise) later(answer);
      else if (answer) out.push(frame(answer));
    }
    pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    if (pending.length > 0) {
      // A query begun: it has queryTimeoutMs to be whole (a new one when this read finished others).
      if (pos > 0) slot.cancel("query");
      slot.cancel("idle");
      if (!slot.has("query")) slot.deadline("query", "query", options.queryTimeoutMs);
    } else {
      slot.cancel("query");
      idle();
    }
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
