import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";

/**
 * TLS on an open TCP socket, kept apart from it so the TCP socket can still be reset: Node's
 * `resetAndDestroy()` refuses a TLS socket, and a TLS socket made on the TCP socket itself takes
 * over its handle (a reset of it then sends nothing). Through a plain stream both stay usable;
 * each closes when the other does, and destroying either raises no error of its own.
 */
export function tlsOverTcp(tcp: Socket, options: ConnectionOptions = {}): TLSSocket {
  const stream = new Duplex({
    read() {
      tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      tcp.write(chunk, callback);
    },
    final(callback) {
      tcp.end(callback);
    },
    destroy(err, callback) {
      tcp.destroy();
      callback(err);
    },
  });
  stream.on("error", () => {});
  tcp.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) tcp.pause();
  });
  tcp.on("end", () => stream.push(null));
  const secure = tlsConnect({ ...options, socket: stream });
  tcp.once("close", () => {
    stream.destroy();
    secure.destroy();
  });
  secure.once("close", () => tcp.destroy());
  return secure;
}
