import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  startDnsReplica,
  startEdge,
  tcpConnect,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";
import { frame, tcpBatch } from "../testing/test-client.js";
import { header, query } from "../testing/test-fixtures.js";

const zone = { origin: "example.test", soa: { mname: "ns1", rname: "hostmaster" }, records: [] };

async function setUp(tcp: Record<string, number>) {
  const port = await freePort();
  const edge = await startEdge({ dns: { ports: [port], tcp, zones: [zone] } });
  const replica = await startDnsReplica(edge, { name: "dns-tcp" }).catch(async (err) => {
    await edge.stop();
    throw err;
  });
  return { port, edge, replica };
}

/** Sends one query on an open connection and resolves with the answer's header. */
async function ask(socket: Socket, id: number) {
  const got = once(socket, "data");
  socket.write(frame(query("example.test", 6, { id })));
  const [chunk] = (await got) as [Buffer];
  return header(chunk.subarray(2));
}

async function metric(replica: DnsReplica, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
}

describe("dns over TCP: a cap on connections per replica", () => {
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let port: number;
  const open: Socket[] = [];

  before(async () => {
    ({ edge, replica, port } = await setUp({ maxConnections: 2, idleTimeoutMs: 600_000 }));
  });
  after(async () => {
    for (const s of open) s.destroy();
    await replica?.stop();
    await edge?.stop();
  });

  it("closes a connection past dns.tcp.maxConnections at once, and takes new ones when one ends", async () => {
    for (const id of [1, 2]) {
      const s = await tcpConnect(port);
      open.push(s);
      assert.equal((await ask(s, id)).id, id);
    }
    await waitFor(
      "both connections counted",
      async () => (await metric(replica, "switchyard_dns_tcp_connections")) === 2,
    );
    const refused = await tcpExchange(port, { send: frame(query("example.test", 6)), timeoutMs: 10_000 });
    assert.equal(refused.closed, true, "the replica closed the third connection");
    assert.equal(refused.data.length, 0, "without an answer");
    assert.equal(await metric(replica, "switchyard_dns_tcp_refused_total"), 1);
    open.shift()?.destroy();
    await waitFor("a freed slot is used again", async () => {
      const answers = await tcpBatch(port, [query("example.test", 6, { id: 9 })], { timeoutMs: 2000 });
      return answers[0] !== undefined;
    });
    const still = open[0] as Socket;
    assert.equal((await ask(still, 3)).rcode, 0, "the connections it held were never disturbed");
  });
});

describe("dns over TCP: idle timeout", () => {
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let port: number;

  before(async () => {
    ({ edge, replica, port } = await setUp({ maxConnections: 10, idleTimeoutMs: 300 }));
  });
  after(async () => {
    await replica?.stop();
    await edge?.stop();
  });

  it("closes a connection that sends nothing for dns.tcp.idleTimeoutMs, after answering what it asked", async () => {
    const socket = await tcpConnect(port);
    try {
      assert.equal((await ask(socket, 5)).id, 5);
      const closed = once(socket, "close");
      const timer = setTimeout(
        () => socket.destroy(new Error("not closed by the server within 15 s")),
        15_000,
      );
      await closed;
      clearTimeout(timer);
      assert.equal(socket.errored, null, "the server closed it");
    } finally {
      socket.destroy();
    }
    const silent = await tcpExchange(port, { timeoutMs: 15_000 });
    assert.equal(silent.closed, true, "a connection that never sends is closed too");
  });
});
