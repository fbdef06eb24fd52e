import assert from "node:assert/strict";
import dgram from "node:dgram";
import { after, before, describe, it } from "node:test";
import { connectNats, createLogger, type NatsConnection } from "@switchyard/runtime";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type NatsServerHandle,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  startNatsServer,
  waitFor,
} from "@switchyard/testkit";
import { tcpBatch, udpBatch } from "../testing/test-client.js";
import { header, query } from "../testing/test-fixtures.js";

const RATE = 10;
const WINDOW_SECONDS = 1;
const BURST = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A UDP client bound to one source address; counts full, truncated and missing answers by ID. */
async function client(source: string) {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, source, r));
  const answers = new Map<number, Buffer>();
  socket.on("message", (msg) => answers.set(msg.readUInt16BE(0), msg));
  return {
    socket,
    answers,
    send(port: number, id: number) {
      socket.send(query("www.example.test", 1, { id, udpSize: 1232 }), port, "127.0.0.1");
    },
    close: () => socket.close(),
  };
}

const counter = (replicas: DnsReplica[], name: string) =>
  scrapeMetric(
    replicas.map((r) => r.metricsPort),
    name,
  );

describe("response rate limiting through the edge, 2 replicas", () => {
  let nats: NatsServerHandle;
  let edge: EdgeHarness;
  let port: number;
  let subscriber: NatsConnection;
  const bans: unknown[] = [];
  const replicas: DnsReplica[] = [];

  before(async () => {
    // The per-role users of npm start and compose: dns publishes with its own, the test listens as nftables.
    nats = await startNatsServer({ jetstream: true, auth: true });
    port = await freePort();
    edge = await startEdge({
      nats: { servers: [nats.url], credentialsFile: nats.credentialsFile },
      dns: {
        ports: [port],
        rrl: { responsesPerSecond: RATE, slip: 2, windowSeconds: WINDOW_SECONDS, banSeconds: 60, exempt: [] },
        zones: [
          {
            origin: "example.test",
            soa: { mname: "ns1", rname: "hostmaster" },
            records: [{ name: "www", type: "A", value: "192.0.2.80" }],
          },
        ],
      },
    });
    subscriber = await connectNats({
      credentialsFile: nats.credentials?.nftables.file,
      servers: nats.url,
      name: "ban-watcher",
      logger: createLogger("test", { level: "warn" }),
    });
    const sub = subscriber.subscribe("firewall.ban");
    void (async () => {
      for await (const m of sub) bans.push(JSON.parse(m.string()));
    })();
    for (const name of ["dns-a", "dns-b"]) {
      const r = await startDnsReplica(edge, { name });
      replicas.push(r);
      await r.process.waitForLine((l) => l.msg === "nats connected");
    }
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await edge?.stop();
    await subscriber?.close();
    await nats?.stop();
  });

  it("answers some of a burst, slips every second limited answer as TC, drops the rest; another /24 is unaffected", async () => {
    const flood = await client("127.0.0.1");
    let flooding = true;
    // Meanwhile a client in another /24 asks, one query at a time, retrying as resolvers do.
    const otherAnswers = udpBatch(
      port,
      Array.from({ length: 10 }, (_, i) => query("www.example.test", 1, { id: i, udpSize: 1232 })),
      { source: "127.0.1.1", window: 1, timeoutMs: 1000, retries: 4 },
    ).finally(() => {
      flooding = false;
    });
    try {
      for (let id = 0; id < BURST; id++) {
        flood.send(port, id);
        if (id % 50 === 49) await sleep(5);
      }
      // Keep the pressure on (same class, fresh IDs the count below ignores) until the other client is done.
      for (let id = BURST; flooding && id < 60_000; id++) {
        flood.send(port, id);
        if (id % 50 === 49) await sleep(5);
      }
      for (let last = -1; flood.answers.size !== last; await sleep(200)) last = flood.answers.size;
      let full = 0;
      let truncated = 0;
      for (const [id, msg] of flood.answers) {
        if (id >= BURST) continue;
        const h = header(msg);
        assert.equal(h.qd, 1, "slipped answers keep the question");
        if (h.tc) {
          assert.deepEqual([h.an, h.ns], [0, 0], "a slipped answer has no records");
          truncated++;
        } else full++;
      }
      const silent = BURST - full - truncated;
      const dropped = await counter(replicas, "switchyard_dns_rrl_dropped_total");
      const slipped = await counter(replicas, "switchyard_dns_rrl_slipped_total");
      process.stdout.write(
        `# burst of ${BURST}: ${full} answered, ${truncated} truncated, ${silent} not answered (replicas over the whole flood: ${slipped} slipped, ${dropped} dropped)\n`,
      );
      // Each replica's bucket starts full, so at least one burst is answered whatever the speed.
      assert.ok(full >= RATE, `${full} answered`);
      assert.ok(truncated > 0 && silent > 0);
      // slip 2: limited answers alternate between dropped and slipped, per replica.
      assert.ok(Math.abs(slipped - dropped) <= replicas.length, `${slipped} slipped vs ${dropped} dropped`);
      const others = await otherAnswers;
      for (const msg of others) {
        assert.ok(msg, "the other network got every answer");
        assert.deepEqual([header(msg).tc, header(msg).an], [false, 1], "in full");
      }
    } finally {
      flood.close();
    }
    const [overTcp] = await tcpBatch(port, [query("www.example.test", 1, { id: 7 })]);
    assert.ok(overTcp, "TCP is never limited");
    assert.deepEqual([header(overTcp).tc, header(overTcp).an], [false, 1]);
  });

  it("publishes a ban on firewall.ban when a network stays over the limit for a whole window, at most once per window", async () => {
    // Its own /24, so neither the earlier test's flood nor its bans count here.
    const network = "127.0.3.0/24";
    const mine = () => bans.filter((b) => (b as { address?: string }).address === network);
    const flood = await client("127.0.3.1");
    const started = Date.now();
    let firstBanAt = 0;
    try {
      // Flood until the first ban, then on for three more windows so "at most once per window" is tested.
      for (let id = 0; id < 400_000 && Date.now() - started < 60_000; id++) {
        if (firstBanAt === 0 && mine().length > 0) firstBanAt = Date.now();
        if (firstBanAt !== 0 && Date.now() - firstBanAt > 3 * WINDOW_SECONDS * 1000) break;
        flood.send(port, id & 0xffff);
        if (id % 50 === 49) await sleep(10);
      }
    } finally {
      flood.close();
    }
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(firstBanAt > 0, "a ban was published");
    assert.deepEqual(mine()[0], { address: network, seconds: 60, reason: "dns-rrl", source: "dns" });
    const bound = replicas.length * (Math.ceil(elapsed / WINDOW_SECONDS) + 1);
    assert.ok(mine().length <= bound, `${mine().length} bans in ${elapsed} s (at most ${bound})`);
    await waitFor("every published ban delivered", async () => {
      return (await counter(replicas, "switchyard_dns_rrl_bans_total")) === bans.length;
    });
  });

  it("NATS refused the dns user nothing (it may publish firewall.ban)", () => {
    assert.deepEqual(nats.permissionViolations, []);
  });
});
