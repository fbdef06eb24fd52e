import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { mulberry32 } from "@switchyard/testkit";

/** A deterministic stream of `size` bytes from `seed`, in 1 MiB chunks. */
export function* patternChunks(seed: number, size: number): Generator<Buffer> {
  const next = mulberry32(seed);
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE(next() >>> 0, i);
  for (let sent = 0; sent < size; sent += block.length) {
    const n = Math.min(block.length, size - sent);
    block[0] = sent & 0xff; // every chunk differs from the one before
    yield n === block.length ? Buffer.from(block) : block.subarray(0, n);
  }
}

export function patternHash(seed: number, size: number): string {
  const hash = createHash("sha256");
  for (const chunk of patternChunks(seed, size)) hash.update(chunk);
  return hash.digest("hex");
}

/** Writes the pattern to `socket` with backpressure. */
export async function writePattern(socket: Socket, seed: number, size: number): Promise<void> {
  for (const chunk of patternChunks(seed, size)) {
    if (!socket.write(chunk)) await new Promise<void>((r) => socket.once("drain", () => r()));
  }
}

/** Reads exactly `size` bytes and gives their sha256. */
export function hashIncoming(socket: Socket, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let got = 0;
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      hash.update(chunk);
      if (got >= size) {
        socket.off("data", onData);
        resolve(got === size ? hash.digest("hex") : `got ${got} bytes, wanted ${size}`);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => {
      if (got < size) reject(new Error(`closed after ${got} of ${size} bytes`));
    });
  });
}

/** A backend that sends the pattern (seed 2) and hashes what it receives; the hash per connection. */
export function bulkBackend(size: number): { server: Server; received: Promise<string>[] } {
  const received: Promise<string>[] = [];
  const server = createServer((s) => {
    s.on("error", () => {});
    received.push(hashIncoming(s, size));
    void writePattern(s, 2, size);
  });
  return { server, received };
}

export function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as { port: number }).port)),
  );
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
