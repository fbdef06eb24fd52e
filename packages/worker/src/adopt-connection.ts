import { Socket } from "node:net";

/**
 * Turns a received TCP fd into a net.Socket whose first bytes are the ones the edge read to route,
 * so the protocol server sees exactly what the client sent. `onEnd` runs once, with byte counts,
 * when the socket is closed.
 */
export function adoptConnection(
  fd: number,
  replay: Buffer,
  onEnd: (bytesIn: number, bytesOut: number) => void,
): Socket {
  const socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: false });
  if (replay.length > 0) socket.unshift(Buffer.from(replay));
  // Only the length is kept: `replay` is a view into the edge's message, which a listener holding it
  // would keep alive for the connection's whole life (about 1 KB per idle connection).
  const replayed = replay.length;
  // Once, whatever a protocol library does with the socket's listeners (re-adding them included).
  let ended = false;
  socket.once("close", () => {
    if (ended) return;
    ended = true;
    onEnd(socket.bytesRead + replayed, socket.bytesWritten);
  });
  return socket;
}
