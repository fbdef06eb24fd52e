/**
 * A DNS client for tests that sends many queries at once: a window of outstanding queries, matched
 * by ID, retried on timeout (UDP), pipelined on one connection (TCP). Tests only.
 */
import dgram from "node:dgram";
import { connect } from "node:net";

export interface BatchOptions {
  host?: string;
  /** UDP only: the local address to send from (default any). */
  source?: string;
  /** Queries in flight at once. */
  window?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** UDP only: attempts after the first. */
  retries?: number;
}

/** Sends every query (each with a distinct ID) over UDP and returns the responses in query order. */
export async function udpBatch(
  port: number,
  queries: Buffer[],
  options: BatchOptions = {},
): Promise<Array<Buffer | undefined>> {
  const { host = "127.0.0.1", window = 16, timeoutMs = 2000, retries = 2, source } = options;
  const byId = indexById(queries);
  const results: Array<Buffer | undefined> = new Array(queries.length);
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => (source ? socket.bind(0, source, r) : socket.bind(0, r)));
  const waiting = new Map<number, () => void>();
  socket.on("message", (msg) => {
    if (msg.length < 2) return;
    const index = byId.get(msg.readUInt16BE(0));
    if (index === undefined || results[index]) return;
    results[index] = msg;
    waiting.get(index)?.();
  });
  const one = async (index: number) => {
    for (let attempt = 0; attempt <= retries && !results[index]; attempt++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        waiting.set(index, () => {
          clearTimeout(timer);
          resolve();
        });
        socket.send(queries[index] as Buffer, port, host);
      });
      waiting.delete(index);
    }
  };
  await inWindows(queries.length, window, one);
  socket.close();
  return results;
}

/**
 * Sends every query pipelined on one TCP connection (at most `window` unanswered) and returns the
 * responses in query order; a response that never came is undefined.
 */
export async function tcpBatch(
  port: number,
  queries: Buffer[],
  options: BatchOptions = {},
): Promise<Array<Buffer | undefined>> {
  const { host = "127.0.0.1", window = 16, timeoutMs = 5000 } = options;
  const byId = indexById(queries);
  const results: Array<Buffer | undefined> = new Array(queries.length);
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const waiting = new Map<number, () => void>();
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
      const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
      pending = pending.subarray(2 + msg.length);
      const index = msg.length >= 2 ? byId.get(msg.readUInt16BE(0)) : undefined;
      if (index === undefined) continue;
      results[index] = Buffer.from(msg);
      waiting.get(index)?.();
    }
  });
  let closed = false;
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    for (const w of waiting.values()) w();
  });
  const one = (index: number) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const timer = setTimeout(resolve, timeoutMs);
      waiting.set(index, () => {
        clearTimeout(timer);
        waiting.delete(index);
        resolve();
      });
      socket.write(frame(queries[index] as Buffer));
    });
  await inWindows(queries.length, window, one);
  socket.destroy();
  return results;
}

/** A message with its 2-octet length prefix (RFC 1035 4.2.2). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

function indexById(queries: Buffer[]): Map<number, number> {
  const byId = new Map<number, number>();
  queries.forEach((q, i) => {
    const id = q.readUInt16BE(0);
    if (byId.has(id)) throw new Error(`two queries share the ID ${id}`);
    byId.set(id, i);
  });
  return byId;
}

async function inWindows(count: number, window: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}
