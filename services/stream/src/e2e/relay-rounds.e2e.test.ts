/**
 * The splice relay reads a busy side for a bounded number of rounds per turn, then lets other
 * connections go. The bytes of the last round must still be delivered when the sender then goes
 * quiet (it waits for an answer, or has sent everything and keeps the connection open): a burst of
 * exactly rounds × pipe size stranded them in the pipe, waiting for a readiness that never came.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type StreamReplica,
  startEdge,
  startStreamReplica,
  waitFor,
} from "@switchyard/testkit";
import { closeServer, listen } from "../testing/backends.js";

/** relay.c: PIPE_SIZE (256 KiB) × ROUNDS (8). */
const BURST = 8 * 256 * 1024;

describe("splice relay: a burst the size of one turn's rounds", () => {
  let edge: EdgeHarness;
  let stream: StreamReplica;
  let backend: Server;
  let port: number;
  /** Bytes the backend received, per connection in accept order. */
  const received: number[] = [];

  before(async () => {
    backend = createServer((s) => {
      const i = received.push(0) - 1;
      s.on("error", () => {});
      s.on("data", (d: Buffer) => {
        received[i] = (received[i] ?? 0) + d.length;
      });
    });
    const backendPort = await listen(backend);
    port = await freePort();
    edge = await startEdge({
      routes: [
        {
          name: "burst",
          match: { ports: [port] },
          action: { type: "forward", host: "127.0.0.1", port: backendPort },
        },
      ],
    });
    stream = await startStreamReplica(edge, { name: "stream-rounds" });
  });

  after(async () => {
    await stream?.stop();
    await edge?.stop();
    await closeServer(backend);
  });

  it("delivers every burst of 1 to 3 turns' worth, the sender silent and the connection open after it", async () => {
    const sockets: Socket[] = [];
    try {
      // Sizes around whole turns: the last round of a turn ends exactly on the burst's last byte
      // when the relay finds the whole burst already in its socket buffer.
      const sizes = [1, 2, 3].flatMap((k) => [k * BURST - 1, k * BURST, k * BURST + 1]);
      for (let round = 0; round < 4; round++)
        for (const size of sizes) {
          const first = received.length;
          const s = connect({ host: "127.0.0.1", port });
          sockets.push(s);
          s.on("error", () => {});
          await new Promise<void>((r) => s.once("connect", () => r()));
          await waitFor(() => received.length > first, { what: "the backend accepted the forward" });
          s.write(Buffer.alloc(size, 7));
          await waitFor(() => received[first] === size, {
            what: `${size} bytes at the backend (got ${received[first]})`,
            timeout: 30_000,
          });
        }
    } finally {
      for (const s of sockets) s.destroy();
    }
    assert.ok(received.length >= 36);
  });
});
