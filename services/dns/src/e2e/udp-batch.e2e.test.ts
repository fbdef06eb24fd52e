import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  waitFor,
} from "@switchyard/testkit";
import { exampleZone, query } from "../testing/test-fixtures.js";

const bigTxt = Array.from({ length: 12 }, (_, i) => `big TXT "${String(i).repeat(200)}"`).join("\n");

/** Queries of every kind the UDP path answers differently: answers, TC, NXDOMAIN, REFUSED, FORMERR. */
function queries(count: number): Buffer[] {
  const kinds = [
    () => query("example.test", 1),
    () => query("mail.example.test", 28, { udpSize: 1232 }),
    () => query("big.example.test", 16), // 512 bytes without EDNS: truncated, TC=1
    () => query("big.example.test", 16, { udpSize: 4096 }),
    () => query("nope.example.test", 1),
    () => query("elsewhere.invalid", 1),
    () => Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12]), // a pointer loop
  ];
  return Array.from({ length: count }, (_, i) => {
    const q = (kinds[i % kinds.length] as () => Buffer)();
    q.writeUInt16BE(i, 0);
    return q;
  });
}

/** Sends the queries in windows of 100 and returns the answers by query ID. */
async function exchangeAll(port: number, all: Buffer[]): Promise<Map<number, Buffer>> {
  const socket = dgram.createSocket("udp4");
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const answers = new Map<number, Buffer>();
  socket.on("message", (m) => answers.set(m.readUInt16BE(0), m));
  try {
    for (let at = 0; at < all.length; at += 100) {
      const window = all.slice(at, at + 100);
      for (let attempt = 0; attempt < 5; attempt++) {
        const missing = window.filter((q) => !answers.has(q.readUInt16BE(0)));
        if (missing.length === 0) break;
        for (const q of missing) socket.send(q, port, "127.0.0.1");
        await waitFor(
          "a window of answers",
          () => window.every((q) => answers.has(q.readUInt16BE(0))),
          3000,
        ).catch(() => {});
      }
    }
  } finally {
    socket.close();
  }
  return answers;
}

type Mode = "batch" | "dgram";

describe("UDP through the edge: batched (recvmmsg/sendmmsg) and dgram replicas answer alike", () => {
  let dir: string;
  let edge: EdgeHarness;
  let port: number;
  const all = queries(700);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `switchyard-udp-batch-${process.pid}-`));
    const file = join(dir, "example.test.zone");
    await writeFile(file, `${exampleZone}${bigTxt}\n`);
    port = await freePort();
    edge = await startEdge({ dns: { ports: [port], zones: [{ origin: "example.test", file }] } });
  });

  after(async () => {
    await edge?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * A burst through a replica of the mode's own (serving in that mode, every query answered, batches
   * counted only in batch mode): its answers by query ID. Once per mode, by whichever test asks first.
   */
  const bursts = new Map<Mode, Promise<Map<number, Buffer>>>();
  const answersIn = (mode: Mode): Promise<Map<number, Buffer>> => {
    let burst = bursts.get(mode);
    if (!burst) {
      burst = burstIn(mode);
      bursts.set(mode, burst);
    }
    return burst;
  };
  async function burstIn(mode: Mode): Promise<Map<number, Buffer>> {
    const replica = await startDnsReplica(edge, {
      name: `dns-${mode}`,
      env: { SWITCHYARD_DNS_UDP_BATCH: mode === "batch" ? "1" : "0" },
    });
    try {
      const serving = await replica.process.waitForLine((l) => l.msg === "serving udp");
      assert.equal(serving.mode, mode);
      const got = await exchangeAll(port, all);
      assert.equal(got.size, all.length, `every query answered in ${mode} mode`);
      const batches = await scrapeMetric(replica.metricsPort, "switchyard_dns_udp_batches_total");
      if (mode === "batch") {
        assert.ok(batches > 0 && batches <= all.length * 5, `batches ${batches}`);
      } else {
        assert.equal(batches, 0);
      }
      return got;
    } finally {
      await replica.stop();
    }
  }

  for (const mode of ["batch", "dgram"] as const) {
    it(`answers a burst of ${all.length} mixed queries in ${mode} mode`, async () => {
      await answersIn(mode);
    });
  }

  it("gives byte-identical answers in both modes", async () => {
    const batch = await answersIn("batch");
    const plain = await answersIn("dgram");
    for (const [id, answer] of plain) assert.deepEqual(batch.get(id), answer, `answer to query ${id}`);
    // The kinds really differ: TC set on the truncated one, FORMERR on the loop, REFUSED outside.
    const flags = (id: number) => (plain.get(id) as Buffer).readUInt16BE(2);
    assert.ok(flags(2) & 0x0200, "TC on the 512-byte TXT answer");
    assert.equal(flags(5) & 0xf, 5, "REFUSED outside the zones");
    assert.equal(flags(6) & 0xf, 1, "FORMERR on a pointer loop");
  });
});
