/**
 * bench/stream: UDP request/response load (argv: port seconds sockets window). Each of `sockets`
 * client sockets (each a session at a proxy) keeps `window` 64-byte datagrams outstanding and sends
 * the next one per answer; a window that got no answer for 200 ms is sent again (counted as lost).
 * Prints {"pps", "p50", "p99", "lost"}: answers per second, round-trip ms.
 */
import { createSocket } from "node:dgram";

const [port, seconds, sockets, window] = process.argv.slice(2).map(Number);
const rtts = [];
let answers = 0;
let lost = 0;
let running = true;
const done = [];
for (let s = 0; s < sockets; s++) {
  const socket = createSocket("udp4");
  const sentAt = new Map();
  let seq = 0;
  let lastAnswer = performance.now();
  const send = () => {
    const buf = Buffer.alloc(64);
    const id = seq++;
    buf.writeUInt32BE(id, 0);
    sentAt.set(id, performance.now());
    socket.send(buf, port, "127.0.0.1");
  };
  socket.on("message", (msg) => {
    const id = msg.readUInt32BE(0);
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    const now = performance.now();
    lastAnswer = now;
    if (!running) return;
    answers++;
    if (answers % 16 === 0) rtts.push(now - at);
    send();
  });
  const watchdog = setInterval(() => {
    if (!running || performance.now() - lastAnswer < 200) return;
    lost += sentAt.size;
    sentAt.clear();
    lastAnswer = performance.now();
    for (let i = 0; i < window; i++) send();
  }, 100);
  socket.bind(0, "127.0.0.1", () => {
    for (let i = 0; i < window; i++) send();
  });
  done.push(() => {
    clearInterval(watchdog);
    socket.close();
  });
}
const started = performance.now();
setTimeout(() => {
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  for (const d of done) d();
  rtts.sort((a, b) => a - b);
  const q = (f) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * f))] ?? Number.NaN;
  process.stdout.write(`${JSON.stringify({ pps: answers / elapsed, p50: q(0.5), p99: q(0.99), lost })}\n`);
}, seconds * 1000);
