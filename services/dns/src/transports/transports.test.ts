import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLogger } from "@switchyard/runtime";
import { waitFor } from "@switchyard/testkit";
import { ResponseRateLimiter } from "../answer/rate-limiter.js";
import { Responder } from "../answer/responder.js";
import { Forwarder } from "../forward/forwarder.js";
import { frame } from "../testing/test-client.js";
import { header, query } from "../testing/test-fixtures.js";
import { Zone } from "../zones/zone.js";
import { parseZoneFile } from "../zones/zone-file.js";
import { ZoneSet } from "../zones/zone-set.js";
import { ConnectionSlot } from "./connection-slots.js";
import { serveTcp } from "./tcp-server.js";
import { serveUdp } from "./udp-server.js";

/**
 * The transports with both of their jobs at once: forwarding for trusted clients (answers that come
 * later) beside rate limiting (UDP) and write backpressure and framing (TCP). The upstream is a real
 * responder on a real UDP socket; the client is 127.0.0.1, a trusted network.
 */

const A = 1;
const TXT = 16;
const logger = createLogger("test", { level: "silent" });

/** A listener the tests made, and the server's side of each connection it accepted. */
interface TcpServer {
  listener: Server;
  served: Socket[];
}

function zoneSet(origin: string, body: string): ZoneSet {
  const text = `$ORIGIN ${origin}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 604800 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n${body}`;
  return new ZoneSet([new Zone(origin, parseZoneFile(text, { file: origin, origin, defaultTtl: 300 }))]);
}

const bigTxt = Array.from({ length: 4 }, (_, i) => `big IN TXT "${String(i).repeat(250)}"`).join("\n");
const local = new Responder(zoneSet("local.test", `www IN A 192.0.2.80\n${bigTxt}\n`));
const upstreamZones = new Responder(zoneSet("up.test", "www IN A 198.51.100.80\n"));

async function udpSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return socket;
}

async function newForwarder(upstreamPort: number, timeoutMs: number): Promise<Forwarder> {
  return Forwarder.create(
    {
      clients: ["127.0.0.0/8"],
      upstreams: [{ address: `127.0.0.1:${upstreamPort}`, protocol: "udp" }],
      cacheSize: 100,
      timeoutMs,
    },
    () => local,
    { query: () => {}, outcome: () => {}, upstreamError: () => {} },
    logger,
  );
}

/** Reads length-prefixed messages off a client socket. */
function collect(socket: Socket): Buffer[] {
  const got: Buffer[] = [];
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
      got.push(Buffer.from(pending.subarray(2, 2 + pending.readUInt16BE(0))));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
    }
  });
  return got;
}

describe("transports: forwarding beside rate limiting and backpressure", () => {
  let upstream: dgram.Socket;
  let silent: dgram.Socket;
  const forwarders: Forwarder[] = [];
  const servers: TcpServer[] = [];
  const clients: Socket[] = [];

  before(async () => {
    upstream = await udpSocket();
    serveUdp(upstream, { answerer: () => upstreamZones, responder: () => upstreamZones });
    // An upstream that reads and never answers: forwarded questions wait for its timeout.
    silent = await udpSocket();
  });

  after(async () => {
    for (const c of clients) c.destroy();
    for (const server of servers) {
      for (const s of server.served) s.destroy();
      await new Promise((resolve) => server.listener.close(resolve));
    }
    for (const f of forwarders) f.close();
    upstream?.close();
    silent?.close();
  });

  /** A forwarder of the test's own (its cache starts empty) to the answering or the silent upstream. */
  async function forwarderTo(which: "upstream" | "silent"): Promise<Forwarder> {
    const forwarder =
      which === "upstream"
        ? await newForwarder(upstream.address().port, 2000)
        : await newForwarder(silent.address().port, 1000);
    forwarders.push(forwarder);
    return forwarder;
  }

  /**
   * A TCP listener of the test's own that serves every connection with `answerer`, and a client
   * connected to it, with the server's side of that connection.
   */
  async function tcpConnection(answerer: Forwarder): Promise<{ client: Socket; socket: Socket }> {
    const served: Socket[] = [];
    let onAccept: (socket: Socket) => void = () => {};
    const accepted = new Promise<Socket>((resolve) => {
      onAccept = resolve;
    });
    const listener = createServer((socket) => {
      served.push(socket);
      onAccept(socket);
      const slot = new ConnectionSlot(socket, () => {});
      socket.once("close", () => slot.clear());
      serveTcp(socket, slot, () => answerer, {
        idleTimeoutMs: 60_000,
        queryTimeoutMs: 60_000,
        client: "127.0.0.1",
      });
    });
    servers.push({ listener, served });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const client = connect({ port: (listener.address() as { port: number }).port, host: "127.0.0.1" });
    clients.push(client);
    const [socket] = await Promise.all([accepted, once(client, "connect")]);
    return { client, socket };
  }

  it("UDP: rate-limits authoritative answers to a trusted client, never its forwarded ones", async () => {
    const limited = { dropped: 0, slipped: 0 };
    const limiter = new ResponseRateLimiter(
      { responsesPerSecond: 1, slip: 2, windowSeconds: 15, exempt: [], banSeconds: 0 },
      { dropped: () => limited.dropped++, slipped: () => limited.slipped++ },
    );
    const forwarder = await forwarderTo("upstream");
    const server = await udpSocket();
    serveUdp(server, { answerer: () => forwarder, responder: () => local, limiter: () => limiter });
    const client = await udpSocket();
    const answers = new Map<number, Buffer>();
    client.on("message", (msg) => answers.set(msg.readUInt16BE(0), msg));
    try {
      const COUNT = 40;
      // Forwarded (up.test is not ours): one answer each, in full, however fast they come.
      for (let id = 1; id <= COUNT; id++)
        client.send(query("www.up.test", A, { id }), server.address().port, "127.0.0.1");
      await waitFor("every forwarded answer", () => answers.size === COUNT, 20_000);
      for (const msg of answers.values()) {
        const h = header(msg);
        assert.deepEqual([h.rcode, h.tc, h.an, h.aa], [0, false, 1, false]);
      }
      assert.deepEqual(limited, { dropped: 0, slipped: 0 }, "forwarded answers are not rate limited");

      // Authoritative (local.test) to the same client: limited, every second limited one slipped.
      answers.clear();
      for (let id = 1; id <= COUNT; id++)
        client.send(query("www.local.test", A, { id }), server.address().port, "127.0.0.1");
      await waitFor(
        "every authoritative query decided",
        () => limited.dropped > 0 && answers.size === COUNT - limited.dropped,
        20_000,
      );
      const truncated = [...answers.values()].filter((m) => header(m).tc);
      assert.equal(truncated.length, limited.slipped);
      assert.ok(limited.slipped > 0 && Math.abs(limited.slipped - limited.dropped) <= 1);
      for (const m of truncated) assert.deepEqual([header(m).an, header(m).qd], [0, 1]);
    } finally {
      client.close();
      server.close();
    }
  });

  it("TCP: answers authoritative questions at once and forwarded ones when the upstream does, then ends after the last", async () => {
    const { client } = await tcpConnection(await forwarderTo("upstream"));
    const got = collect(client);
    const ended = once(client, "end");
    client.end(
      Buffer.concat([
        frame(query("www.local.test", A, { id: 1 })),
        frame(query("www.up.test", A, { id: 2 })),
        frame(query("www.local.test", A, { id: 3 })),
      ]),
    );
    await ended;
    assert.deepEqual(
      got.map((m) => m.readUInt16BE(0)),
      [1, 3, 2],
      "the pipelined authoritative answers in order, the forwarded one when it came",
    );
    assert.deepEqual(
      got.map((m) => header(m).aa),
      [true, true, false],
    );
  });

  it("TCP: stops reading from a client that does not read its answers, and answers all once it does", async () => {
    const { client, socket } = await tcpConnection(await forwarderTo("upstream"));
    client.pause();
    const COUNT = 60_000;
    const frames = Array.from({ length: COUNT }, (_, i) => frame(query("big.local.test", TXT, { id: i })));
    const sent = frames.reduce((n, f) => n + f.length, 0);
    client.write(Buffer.concat(frames));
    await waitFor("the replica paused reading", () => socket.isPaused(), 20_000);
    const readWhenPaused = socket.bytesRead;
    assert.ok(readWhenPaused < sent / 2, `read ${readWhenPaused} of ${sent} octets while paused`);
    const got = collect(client);
    client.resume();
    await waitFor("every answer", () => got.length === COUNT, 60_000);
    assert.equal(socket.bytesRead, sent);
    assert.ok(got.every((m) => header(m).an === 4));
  });

  it("TCP: stops reading while 100 forwarded questions wait for their upstream", async () => {
    const { client, socket } = await tcpConnection(await forwarderTo("silent"));
    const got = collect(client);
    client.write(
      Buffer.concat(Array.from({ length: 150 }, (_, i) => frame(query(`n${i}.up.test`, A, { id: i })))),
    );
    await waitFor("the replica paused reading", () => socket.isPaused(), 20_000);
    client.write(frame(query("www.local.test", A, { id: 1000 })));
    await waitFor("every answer", () => got.length === 151, 30_000);
    const local = got.findIndex((m) => m.readUInt16BE(0) === 1000);
    // Not read while paused: answered only after forwarded ones settled (without the pause: first).
    assert.ok(local > 0, `the question sent while paused was answered at ${local}`);
    assert.ok(got.filter((m) => m.readUInt16BE(0) !== 1000).every((m) => header(m).rcode === 2));
  });
});
