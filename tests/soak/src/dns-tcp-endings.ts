/** DNS over TCP clients of the soak (RFC 7766): pipelining, half frames, resets, idle timeouts. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { assertAnswered, question } from "./dns-answers.js";
import type { Client, Ending } from "./mix.js";

const framed = (msg: Buffer) => Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg]);

async function open(client: Client, port: number): Promise<Socket> {
  const socket = client.track(connect({ host: "127.0.0.1", port, localAddress: client.from }));
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/** Collects length-prefixed messages until `count` arrived. */
function messages(socket: Socket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let pending = Buffer.alloc(0);
    const got: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
        got.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (got.length >= count) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed after ${got.length} of ${count} answers`)));
  });
}

/** Resolves when the server closes; fails if any byte arrives first. */
async function closedByServer(socket: Socket): Promise<void> {
  const bytes: Buffer[] = [];
  socket.on("data", (c: Buffer) => bytes.push(c));
  if (!socket.closed) await once(socket, "close");
  assert.equal(Buffer.concat(bytes).length, 0, "closed without an answer");
}

export function dnsTcpEndings(port: number, nextId: () => number): Ending[] {
  return [
    {
      name: "dns/tcp: 2-8 pipelined queries, all answered, FIN",
      async run(client) {
        const socket = await open(client, port);
        const ids = Array.from({ length: 2 + (nextId() % 7) }, nextId);
        const answers = messages(socket, ids.length);
        socket.write(Buffer.concat(ids.map((id) => framed(question(id)))));
        const got = await answers;
        const byId = new Map(got.map((m) => [m.readUInt16BE(0), m]));
        for (const id of ids) assertAnswered(byId.get(id) ?? Buffer.alloc(0), id);
        socket.end();
        await once(socket, "close");
      },
    },
    {
      name: "dns/tcp: half a frame then FIN, closed without an answer",
      async run(client) {
        const socket = await open(client, port);
        socket.end(framed(question(nextId())).subarray(0, 7));
        await closedByServer(socket);
      },
    },
    {
      name: "dns/tcp: a query answered, then half a frame and reset",
      async run(client) {
        const socket = await open(client, port);
        const id = nextId();
        const answer = messages(socket, 1);
        socket.write(framed(question(id)));
        assertAnswered((await answer)[0] as Buffer, id);
        socket.write(framed(question(nextId())).subarray(0, 5));
        socket.resetAndDestroy();
      },
    },
    {
      name: "dns/tcp: a query answered, then idle until the server closes",
      async run(client) {
        const socket = await open(client, port);
        const id = nextId();
        const answer = messages(socket, 1);
        socket.write(framed(question(id)));
        assertAnswered((await answer)[0] as Buffer, id);
        await closedByServer(socket);
      },
    },
  ];
}
