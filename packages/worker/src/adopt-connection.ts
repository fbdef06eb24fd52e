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
  // Once, whatever a protocol library does with the socket's listeners (re-adding them included).
  let ended = false;
  socket.once("close", () => {
    if (ended) return;
    ended = true;
    onEnd(socket.bytesRead + replay.length, socket.bytesWritten);
  });
  return socket;
}
