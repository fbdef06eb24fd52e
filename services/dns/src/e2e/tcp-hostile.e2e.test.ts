import assert from "node:assert/strict";
import { once } from "node:events";
import type { Socket } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  startDnsReplica,
  startEdge,
  tcpConnect,
  waitFor,
} from "@switchyard/testkit";
import {
  backToBaseline,
  closedWithin,
  connectFrom,
  type Held,
  held,
  metric,
} from "../testing/held-resources.js";
import { frame } from "../testing/test-client.js";
import { header, query } from "../testing/test-fixtures.js";

const zone = { origin: "example.test", soa: { mname: "ns1", rname: "hostmaster" }, records: [] };
/** Small deadlines so each ending happens within the test; bounds below are generous multiples. */
const tcp = {
  maxConnections: 50,
  maxConnectionsPerAddress: 3,
  idleTimeoutMs: 1000,
  queryTimeoutMs: 1000,
  sessionTimeoutMs: 60_000,
};

async function ask(socket: Socket, id: number) {
  const got = once(socket, "data");
  socket.write(frame(query("example.test", 6, { id })));
  const [chunk] = (await got) as [Buffer];
  return header(chunk.subarray(2));
}

/** Writes one byte of `bytes` at a time until the socket closes; returns how many went out. */
function dribble(socket: Socket, bytes: Buffer, everyMs: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || sent >= bytes.length) return;
      socket.write(bytes.subarray(sent, sent + 1));
      sent++;
    }, everyMs);
    socket.once("close", () => {
      clearInterval(timer);
      resolve(sent);
    });
  });
}

describe("dns over TCP, hostile clients: every ending releases everything, every wait is bounded", () => {
  let edge: EdgeHarness;
  let replica: DnsReplica;
  let port: number;
  let baseline: Held;
  const open: Socket[] = [];

  before(async () => {
    port = await freePort();
    edge = await startEdge({ dns: { ports: [port], tcp, zones: [zone] } });
    replica = await startDnsReplica(edge, { name: "dns-hostile-tcp" });
  });
  beforeEach(async () => {
    baseline = await held(replica, edge, [port]);
    assert.equal(baseline.connections, 0);
    assert.equal(baseline.edgeActive, 0, "the edge counts no connection of an earlier test");
    assert.equal(baseline.addresses, 0);
  });
  after(async () => {
    for (const s of open) s.destroy();
    await replica?.stop();
    await edge?.stop();
  });

  const track = (s: Socket) => {
    open.push(s);
    s.on("error", () => {});
    return s;
  };

  it("FIN and reset: released", async () => {
    const fin = track(await tcpConnect(port));
    assert.equal((await ask(fin, 1)).id, 1);
    const reset = track(await tcpConnect(port));
    assert.equal((await ask(reset, 2)).id, 2);
    assert.equal((await held(replica, edge, [port])).connections, 2);
    fin.end();
    reset.resetAndDestroy();
    await backToBaseline(replica, edge, [port], baseline, "FIN and reset");
  });

  it("idle timeout: the server closes a connection that asks nothing more, and releases it", async () => {
    const s = track(await tcpConnect(port));
    assert.equal((await ask(s, 3)).id, 3);
    await closedWithin(s, 15_000, "idle connection");
    await backToBaseline(replica, edge, [port], baseline, "idle timeout");
    assert.ok((await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="idle"')) >= 1);
  });

  it("half a frame then FIN: closed and released", async () => {
    const s = track(await tcpConnect(port));
    const q = frame(query("example.test", 6, { id: 4 }));
    s.end(q.subarray(0, 7));
    await closedWithin(s, 15_000, "half frame then FIN");
    await backToBaseline(replica, edge, [port], baseline, "half frame then FIN");
  });

  it("a query dribbled a byte at a time is closed at dns.tcp.queryTimeoutMs; a real client is answered meanwhile", async () => {
    const before = await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="query"');
    // A length prefix of 500 and a byte every 200 ms: never whole within the test, and every byte
    // arrives well within idleTimeoutMs of the last, so only a deadline bytes do not reset closes it.
    const long = Buffer.concat([Buffer.from([0x01, 0xf4]), Buffer.alloc(500, 0x41)]);
    const slow = [track(await connectFrom(port, "127.0.0.4")), track(await connectFrom(port, "127.0.0.4"))];
    const dribbled = slow.map((s) => dribble(s, long, 200));
    const real = track(await connectFrom(port, "127.0.0.5"));
    assert.equal((await ask(real, 5)).rcode, 0, "a real client is answered while the slow ones dribble");
    real.destroy();
    for (const s of slow) await closedWithin(s, 20_000, "dribbling client");
    for (const sent of await Promise.all(dribbled))
      assert.ok(sent < long.length, "closed before the query was whole");
    assert.equal(
      (await metric(replica, "switchyard_dns_tcp_deadlines_total", 'reason="query"')) - before,
      2,
      "both closed by the query deadline",
    );
    await backToBaseline(replica, edge, [port], baseline, "dribbled queries");
  });

  it("per-address cap: the connection past dns.tcp.maxConnectionsPerAddress is closed; another address is served", async () => {
    const before = await metric(replica, "switchyard_dns_tcp_refused_total", 'reason="per-address"');
    const mine: Socket[] = [];
    for (let i = 0; i < tcp.maxConnectionsPerAddress; i++) {
      const s = track(await connectFrom(port, "127.0.0.2"));
      assert.equal((await ask(s, 10 + i)).id, 10 + i, "connections within the cap are served");
      mine.push(s);
    }
    const extra = track(await connectFrom(port, "127.0.0.2"));
    extra.write(frame(query("example.test", 6, { id: 20 })));
    const got: Buffer[] = [];
    extra.on("data", (c: Buffer) => got.push(c));
    await closedWithin(extra, 15_000, "connection over the per-address cap");
    assert.equal(Buffer.concat(got).length, 0, "closed without an answer");
    assert.equal(
      (await metric(replica, "switchyard_dns_tcp_refused_total", 'reason="per-address"')) - before,
      1,
    );
    const other = track(await connectFrom(port, "127.0.0.3"));
    assert.equal((await ask(other, 21)).id, 21, "another address is served");
    const now = await held(replica, edge, [port]);
    assert.equal(now.connections, tcp.maxConnectionsPerAddress + 1);
    assert.equal(now.addresses, 2, "two client addresses hold connections");
    await waitFor(
      "the edge counts the 4 held (and not the refused one, reported ended)",
      async () => (await held(replica, edge, [port])).edgeActive === tcp.maxConnectionsPerAddress + 1,
    );
    assert.equal((await ask(mine[0] as Socket, 22)).id, 22, "the capped address keeps what it holds");
    for (const s of [...mine, other]) s.end();
    await backToBaseline(replica, edge, [port], baseline, "per-address refusal");
  });
});
