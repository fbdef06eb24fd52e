#!/usr/bin/env node
/**
 * The floor for a Node UDP DNS server (a reference in bench/dns, not a server anyone should run):
 * node:dgram, and for each query its header and question copied back with one fixed A record
 * (pre-encoded bytes, no parsing, no lookup). What Switchyard's UDP path costs above this is ours.
 * Usage: node bare-udp.mjs PORT; prints "ready" when bound.
 */
import dgram from "node:dgram";

const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
const socket = dgram.createSocket({ type: "udp4", lookup: (a, _f, cb) => cb(null, a, 4) });
socket.on("message", (msg, rinfo) => {
  if (msg.length < 17) return;
  // Header and question only (any OPT record dropped), then the answer.
  let end = 12;
  while (end < msg.length && msg[end] !== 0) end += msg[end] + 1;
  end += 5;
  if (end > msg.length) return;
  const out = Buffer.allocUnsafe(end + answer.length);
  msg.copy(out, 0, 0, end);
  answer.copy(out, end);
  out[2] = 0x84 | (msg[2] & 0x01);
  out[3] = 0;
  out.writeUInt16BE(1, 6);
  out.writeUInt32BE(0, 8);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(Number(process.argv[2]), "127.0.0.1", () => process.stdout.write("ready\n"));
