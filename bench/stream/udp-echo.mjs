/** bench/stream: a UDP echo backend (argv: port). Prints {"port"} once bound. */
import { createSocket } from "node:dgram";

const socket = createSocket("udp4");
socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.bind(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`);
});
