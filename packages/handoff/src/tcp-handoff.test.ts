import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { countOpenFds, type HandoffChannel, HandoffListener } from "./index.js";
import { exited, fdCountOf, settle, startPeer, suiteSandbox } from "./testing/harness.js";

const CONNECTIONS = 5000;
const CONCURRENCY = 64;

/** The fd of a socket accepted with pauseOnConnect (no public API exposes it). */
function fdOf(socket: net.Socket): number {
  return (socket as unknown as { _handle: { fd: number } })._handle.fd;
}

/** One client: sends a request, half-closes, resolves with the whole answer. */
async function roundTrip(port: number, request: string): Promise<{ answer: string; localPort: number }> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  const localPort = socket.localPort!;
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.end(request);
  await once(socket, "close");
  return { answer: Buffer.concat(chunks).toString(), localPort };
}

describe("TCP connections handed to another process", () => {
  const sandbox = suiteSandbox();

  it(`passes ${CONNECTIONS} accepted sockets; the child serves each, and no fd leaks on either side`, async (t) => {
    const listener = HandoffListener.listen(sandbox.path("edge.sock"));
    const accepted = once(listener, "channel");
    const peer = await startPeer(listener.path, "tcp");
    sandbox.peer = peer;
    const [channel] = (await accepted) as [HandoffChannel];
    listener.close();

    let queuedSends = 0;
    const failures: Error[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      // The edge's part: send the fd with a little metadata, then drop our copy (no FIN).
      const data = Buffer.from(`port:${socket.remotePort}`);
      const sent = channel.send(data, [fdOf(socket)], (err) => {
        if (err) failures.push(err);
        socket.destroy();
      });
      if (sent) socket.destroy();
      else queuedSends++;
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;

    const parentBaseline = await countOpenFds();
    const childBaseline = await fdCountOf(peer.pid);

    let next = 0;
    let correct = 0;
    const wrong: string[] = [];
    const client = async (): Promise<void> => {
      while (next < CONNECTIONS) {
        const request = `request ${next++}`;
        const { answer, localPort } = await roundTrip(port, request);
        if (answer === `port:${localPort}|${request}`) correct++;
        else wrong.push(answer);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));

    assert.deepEqual(wrong, []);
    assert.deepEqual(failures, []);
    assert.equal(correct, CONNECTIONS);
    assert.equal(await settle(countOpenFds, parentBaseline), parentBaseline, "parent fds back to baseline");
    assert.equal(
      await settle(() => fdCountOf(peer!.pid), childBaseline),
      childBaseline,
      "child fds back to baseline",
    );
    t.diagnostic(`${queuedSends} of ${CONNECTIONS} sends waited for a writable socket`);

    server.close();
    channel.close();
    await exited(peer.child);
  });
});
