/**
 * The one backend of bench/handoff: the same code answers direct connections (direct.mjs), handed-off
 * ones (worker.mjs) and those that come through the edge's forward route or HAProxy.
 *
 * A minimal HTTP/1.0 exchange, read until the end of the request head:
 *   GET /bulk/N   → N bytes of payload (no header), then close
 *   GET /hold     → "OK\n", then keep the connection open until the client closes it
 *   anything else → a fixed ~100-byte HTTP/1.0 reply, then close
 */

const HEAD = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 35\r\n\r\n";
/** Exactly 100 bytes: the head above and a 35-byte body. */
export const REPLY = Buffer.from(`${HEAD}${"switchyard bench reply ".padEnd(34, ".")}\n`, "latin1");
const HOLD_OK = Buffer.from("OK\n");
const CHUNK = Buffer.alloc(256 * 1024, 0x61);
const MAX_HEAD = 4096;

function streamBulk(socket, total) {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once("drain", pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}

/** Serves one connection (a net.Socket, accepted or adopted from a handed-off fd). */
export function serve(socket) {
  socket.on("error", () => socket.destroy());
  let head = "";
  const onData = (chunk) => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > MAX_HEAD) socket.destroy();
      return;
    }
    socket.removeListener("data", onData);
    const line = head.slice(0, head.indexOf("\r\n"));
    if (line.startsWith("GET /bulk/")) {
      const total = Number.parseInt(line.slice(10), 10);
      if (!Number.isSafeInteger(total) || total < 0) return socket.destroy();
      streamBulk(socket, total);
    } else if (line.startsWith("GET /hold")) {
      socket.write(HOLD_OK);
      socket.on("data", () => {});
      socket.on("end", () => socket.end());
    } else {
      socket.end(REPLY);
    }
  };
  socket.on("data", onData);
}
