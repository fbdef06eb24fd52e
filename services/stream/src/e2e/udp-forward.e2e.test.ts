/**
 * UDP forward routes end to end: the edge binds the port and shares the socket with the stream
 * worker, which keeps a session per client address and answers from the shared socket.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type StreamReplica,
  scrapeMetric,
  startEdge,
  startStreamReplica,
  waitFor,
} from "@switchyard/testkit";

/** A UDP echo that answers `<source port>:<payload>`, so a test sees which upstream socket it used. */
async function udpEcho(): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) =>
    socket.send(Buffer.from(`${rinfo.port}:${msg.toString()}`), rinfo.port, rinfo.address),
  );
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  return { socket, port: socket.address().port };
}

interface Client {
  socket: dgram.Socket;
  answers: Array<{ text: string; port: number; address: string }>;
}

async function client(address = "127.0.0.1"): Promise<Client> {
  const socket = dgram.createSocket("udp4");
  const c: Client = { socket, answers: [] };
  socket.on("message", (msg, rinfo) =>
    c.answers.push({ text: msg.toString(), port: rinfo.port, address: rinfo.address }),
  );
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  return c;
}

describe("udp forward through the stream pool", () => {
  let edge: EdgeHarness;
  let stream: StreamReplica;
  let echo: Awaited<ReturnType<typeof udpEcho>>;
  const ports: Record<string, number> = {};
  const clients: Client[] = [];
  const metric = (name: string, labels: Record<string, string>) =>
    scrapeMetric(stream.metricsPort, `switchyard_stream_${name}`, labels);

  before(async () => {
    echo = await udpEcho();
    for (const k of ["many", "idle", "bounded"]) ports[k] = await freePort();
    const udp = (name: string, action: Record<string, unknown>) => ({
      name,
      match: { ports: [ports[name]], protocol: "udp" },
      action: { type: "forward", host: "127.0.0.1", port: echo.port, ...action },
    });
    edge = await startEdge({
      routes: [
        // All 200 clients share 127.0.0.1: above the default bound of 64 sessions per client address.
        udp("many", { maxSessionsPerClient: 256 }),
        udp("idle", { idleTimeoutMs: 300 }),
        udp("bounded", { maxSessionsPerClient: 2 }),
      ],
    });
    stream = await startStreamReplica(edge, { name: "stream-udp" });
  });

  after(async () => {
    for (const c of clients) c.socket.close();
    await stream?.stop();
    await edge?.stop();
    echo?.socket.close();
  });

  it("answers 200 client ports at once, each from the address it wrote to", async () => {
    const batch = await Promise.all(Array.from({ length: 200 }, () => client()));
    clients.push(...batch);
    for (const [i, c] of batch.entries()) c.socket.send(`hello ${i}`, ports.many!, "127.0.0.1");
    await waitFor(() => batch.every((c) => c.answers.length === 1), {
      what: "an answer to each of 200 clients",
    });
    const upstreamPorts = new Set<string>();
    batch.forEach((c, i) => {
      const [answer] = c.answers;
      assert.equal(answer!.port, ports.many, "the answer comes from the port the client wrote to");
      assert.equal(answer!.address, "127.0.0.1");
      const [from, text] = answer!.text.split(":");
      assert.equal(text, `hello ${i}`);
      upstreamPorts.add(from!);
    });
    assert.equal(upstreamPorts.size, 200, "one upstream socket (session) per client port");
    assert.equal(await metric("udp_sessions_active", { route: "many" }), 200);
  });

  it("ends an idle session after the route's timeout, and a new datagram makes a new one", async () => {
    const c = await client();
    clients.push(c);
    const idleBefore = await metric("udp_sessions_total", { route: "idle", end: "idle" });
    c.socket.send("one", ports.idle!, "127.0.0.1");
    await waitFor(() => c.answers.length === 1, { what: "the first answer" });
    const first = c.answers[0]!.text.split(":")[0];
    c.socket.send("two", ports.idle!, "127.0.0.1");
    await waitFor(() => c.answers.length === 2, { what: "the second answer" });
    assert.equal(c.answers[1]!.text.split(":")[0], first, "within the timeout: the same session");
    await waitFor(
      async () => (await metric("udp_sessions_total", { route: "idle", end: "idle" })) === idleBefore + 1,
      { what: "the session to expire" },
    );
    assert.equal(await metric("udp_sessions_active", { route: "idle" }), 0);
    c.socket.send("three", ports.idle!, "127.0.0.1");
    await waitFor(() => c.answers.length === 3, { what: "the third answer" });
    assert.notEqual(c.answers[2]!.text.split(":")[0], first, "after the timeout: a new session");
  });

  it("refuses a client's session over its bound, and still serves its first ones", async () => {
    const [a, b, over] = await Promise.all([client("127.0.0.7"), client("127.0.0.7"), client("127.0.0.7")]);
    clients.push(a!, b!, over!);
    const refusedBefore = await metric("refusals_total", { route: "bounded", reason: "client-sessions" });
    a!.socket.send("a", ports.bounded!, "127.0.0.1");
    b!.socket.send("b", ports.bounded!, "127.0.0.1");
    await waitFor(() => a!.answers.length === 1 && b!.answers.length === 1, { what: "two sessions served" });
    over!.socket.send("c", ports.bounded!, "127.0.0.1");
    await waitFor(
      async () =>
        (await metric("refusals_total", { route: "bounded", reason: "client-sessions" })) ===
        refusedBefore + 1,
      { what: "the third session refused" },
    );
    assert.equal(over!.answers.length, 0);
    // Another address has its own bound.
    const other = await client("127.0.0.8");
    clients.push(other);
    other.socket.send("d", ports.bounded!, "127.0.0.1");
    await waitFor(() => other.answers.length === 1, { what: "another client's session" });
  });
});
