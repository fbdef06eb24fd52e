/** The OCSP fetch against hostile responders: a dribbled body, an oversized chunked body. */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { OcspResponseError } from "../errors.js";
import { fetchOcspResponse, MAX_RESPONSE_BYTES } from "./fetch-response.js";

const never = new AbortController().signal;

function refusedFor(reason: string) {
  return (err: unknown) => {
    assert.ok(err instanceof OcspResponseError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  };
}

async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  run: (base: string, open: Set<Socket>) => Promise<void>,
): Promise<void> {
  const open = new Set<Socket>();
  const server = createServer(handler);
  server.on("connection", (socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await run(`http://127.0.0.1:${(server.address() as { port: number }).port}`, open);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe("fetchOcspResponse: hostile responders", () => {
  it("a body dribbled a byte at a time fails by the deadline (bytes do not extend it); the same body sent at once is read", async () => {
    const timers = new Set<NodeJS.Timeout>();
    await withServer(
      (req, res) => {
        res.writeHead(200, { "content-type": "application/ocsp-response" });
        if (req.url === "/at-once") {
          res.end(Buffer.alloc(64, 0x30));
          return;
        }
        // 64 bytes, one per 40 ms: 2.5 s in all, each byte well within any per-read timeout.
        let sent = 0;
        const timer = setInterval(() => {
          if (sent++ >= 64 || res.destroyed) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(Buffer.from([0x30]));
        }, 40);
        timers.add(timer);
      },
      async (base, open) => {
        const body = Buffer.from("request");
        assert.equal((await fetchOcspResponse(`${base}/at-once`, body, 400, never)).length, 64);
        await assert.rejects(fetchOcspResponse(`${base}/dribble`, body, 400, never), refusedFor("timeout"));
        // The abandoned exchange's connection is closed, not left to the responder.
        await waitFor(() => open.size === 0, { timeout: 5_000, what: "the responder connection closed" });
      },
    );
    for (const timer of timers) clearInterval(timer);
  });

  it("a chunked body (no length announced) over the cap is refused and its connection closed; one at the cap is read", async () => {
    await withServer(
      (req, res) => {
        res.writeHead(200, { "content-type": "application/ocsp-response" });
        const total = req.url === "/big" ? MAX_RESPONSE_BYTES * 4 : MAX_RESPONSE_BYTES;
        for (let at = 0; at < total; at += 1024) res.write(Buffer.alloc(1024, 0x30));
        res.end();
      },
      async (base, open) => {
        const body = Buffer.from("request");
        assert.equal(
          (await fetchOcspResponse(`${base}/cap`, body, 10_000, never)).length,
          MAX_RESPONSE_BYTES,
        );
        await assert.rejects(fetchOcspResponse(`${base}/big`, body, 10_000, never), refusedFor("too-large"));
        await waitFor(() => open.size <= 1, { timeout: 5_000, what: "the responder connection closed" });
      },
    );
  });
});
