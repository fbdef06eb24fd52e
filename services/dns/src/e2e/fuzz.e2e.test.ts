import assert from "node:assert/strict";
import dgram from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DnsReplica,
  type EdgeHarness,
  freePort,
  type NatsServerHandle,
  scrapeMetric,
  startDnsReplica,
  startEdge,
  startNatsServer,
} from "@switchyard/testkit";
import { decode } from "dns-packet";
import { PacketFuzzer } from "../testing/fuzz-packets.js";
import { frame, tcpBatch, udpBatch } from "../testing/test-client.js";
import { exampleZone, header, query, seeded } from "../testing/test-fixtures.js";

const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 1_035_4592);
const UDP_PACKETS = 100_000;
const UDP_WINDOW = 128;
const TCP_CONNECTIONS = 100;
const TCP_FRAMES = 200;
const ALLOWED_RCODES = new Set([0, 1, 3, 4, 5, 9, 16]);

/**
 * Why a response is not a well-formed answer (undefined when it is). With `sent`, it must also
 * answer that query (its question echoed byte for byte); without, only its form is checked.
 */
function problem(sent: Buffer | undefined, got: Buffer): string | undefined {
  if (got.length < 12) return "shorter than a header";
  let decoded: ReturnType<typeof decode>;
  try {
    decoded = decode(got);
  } catch (err) {
    return `does not decode: ${(err as Error).message}`;
  }
  const h = header(got);
  if (!h.qr) return "QR is not set";
  const opt = decoded.additionals?.find((a) => a.type === "OPT");
  const rcode = h.rcode | (opt && opt.type === "OPT" ? opt.extendedRcode << 4 : 0);
  if (!ALLOWED_RCODES.has(rcode)) return `rcode ${rcode}`;
  if (h.qd === 0) return rcode === 1 || rcode === 4 ? undefined : `rcode ${rcode} without a question`;
  if (h.qd !== 1) return `${h.qd} questions`;
  if (!sent) return undefined;
  // The question must be the one sent, byte for byte (case included).
  let end = 12;
  while (end < sent.length && sent[end] !== 0) end += (sent[end] as number) + 1;
  end += 5;
  if (end > sent.length || end > got.length || !got.subarray(12, end).equals(sent.subarray(12, end)))
    return "the question is not the one sent";
  return undefined;
}

interface Tally {
  sent: number;
  answered: number;
  formerr: number;
  /** Answers carrying an RRSIG (DO=1 queries of the signed zone). */
  signed: number;
  bad: string[];
}

function check(tally: Tally, sent: Buffer | undefined, got: Buffer, strict = true): void {
  tally.answered++;
  if ((got[3] ?? 0) % 16 === 1) tally.formerr++;
  if (got.includes(RRSIG_TYPE_CLASS) && signed(got)) tally.signed++;
  const p = strict && !sent ? "an answer to no query we sent" : problem(sent, got);
  if (p && tally.bad.length < 10)
    tally.bad.push(`${p}: sent ${sent?.toString("hex") ?? "?"} got ${got.toString("hex")}`);
  else if (p) tally.bad.push("");
}

/** An RRSIG record's type and class (46, IN), as they follow its owner name. */
const RRSIG_TYPE_CLASS = Buffer.from([0, 46, 0, 1]);

/** True when the answer section holds an RRSIG (checked after the cheap byte search). */
function signed(got: Buffer): boolean {
  try {
    return (decode(got).answers ?? []).some((a) => a.type === "RRSIG");
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until answers stop coming (or every packet is answered), never for ones that will not come. */
async function settle(tally: Tally, quietMs: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  let last = -1;
  while (tally.answered < tally.sent && tally.answered !== last && Date.now() < until) {
    last = tally.answered;
    await sleep(quietMs);
  }
}

describe(`fuzz: mutated and random packets through the edge, 2 replicas (SWITCHYARD_FUZZ_SEED=${SEED})`, () => {
  let dir: string;
  let edge: EdgeHarness;
  let nats: NatsServerHandle;
  let port: number;
  const replicas: DnsReplica[] = [];

  /** A counter summed over both replicas' metrics. */
  const counted = (what: "dropped", transport: "udp" | "tcp") =>
    scrapeMetric(
      replicas.map((r) => r.metricsPort),
      `switchyard_dns_${what}_total`,
      { transport },
    );

  before(async () => {
    // The signing key comes from NATS KV, as in production.
    nats = await startNatsServer({ jetstream: true });
    process.stdout.write(`# fuzz seed ${SEED}: repeat with SWITCHYARD_FUZZ_SEED=${SEED}\n`);
    dir = await mkdtemp(join(tmpdir(), `switchyard-fuzz-${process.pid}-`));
    const file = join(dir, "example.test.zone");
    const big = Array.from({ length: 12 }, (_, i) => `big TXT "${String(i).repeat(200)}"`).join("\n");
    await writeFile(file, `${exampleZone}${big}\n`);
    port = await freePort();
    edge = await startEdge({
      nats: { servers: [nats.url] },
      dns: {
        ports: [port],
        tcp: { idleTimeoutMs: 5000 },
        zones: [{ origin: "example.test", file, dnssec: { algorithm: "ecdsap256sha256" } }],
      },
    });
    const env = { SWITCHYARD_KV_KEY_FILE: join(dir, "kv.key") };
    replicas.push(await startDnsReplica(edge, { name: "dns-a", env }));
    replicas.push(await startDnsReplica(edge, { name: "dns-b", env }));
    for (const r of replicas) await r.process.waitForLine((l) => l.msg === "dnssec key ready", 30_000);
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await edge?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`answers or drops ${UDP_PACKETS} packets over the shared UDP socket, every answer well-formed`, async () => {
    const fuzzer = new PacketFuzzer(SEED);
    const droppedBefore = await counted("dropped", "udp");
    const tally: Tally = { sent: 0, answered: 0, formerr: 0, signed: 0, bad: [] };
    const byId = new Map<number, Buffer>();
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
    socket.on("message", (msg) =>
      check(tally, msg.length >= 2 ? byId.get(msg.readUInt16BE(0)) : undefined, msg),
    );
    try {
      while (tally.sent < UDP_PACKETS) {
        for (let i = 0; i < UDP_WINDOW && tally.sent < UDP_PACKETS; i++) {
          const p = fuzzer.next();
          if (p.length >= 2) p.writeUInt16BE(tally.sent & 0xffff, 0);
          byId.set(tally.sent & 0xffff, p);
          socket.send(p, port, "127.0.0.1");
          tally.sent++;
        }
        await settle(tally, 5, 500);
      }
      await settle(tally, 200, 3000);
    } finally {
      socket.close();
    }
    const dropped = (await counted("dropped", "udp")) - droppedBefore;
    process.stdout.write(
      `# udp: sent ${tally.sent}, answered ${tally.answered} (FORMERR ${tally.formerr}), dropped by the replicas ${dropped}, lost in socket buffers ${tally.sent - tally.answered - dropped}\n`,
    );
    assert.ok(dropped > 0, "noise and responses are dropped, not answered");
    assert.deepEqual(tally.bad.slice(0, 10), [], `${tally.bad.length} malformed answers`);
    assert.ok(tally.answered > tally.sent / 10, "most real-looking queries are answered");
    assert.ok(tally.signed > 0, "DO=1 queries got signed answers");
  });

  it(`answers or drops ${TCP_CONNECTIONS * TCP_FRAMES} frames on ${TCP_CONNECTIONS} TCP connections, with split and truncated frames`, async () => {
    const tally: Tally = { sent: 0, answered: 0, formerr: 0, signed: 0, bad: [] };
    const one = async (c: number) => {
      // Each connection has its own generators, so its bytes do not depend on timing.
      const fuzzer = new PacketFuzzer(SEED + 1 + c);
      const random = seeded(SEED - 1 - c);
      const byId = new Map<number, Buffer>();
      const frames: Buffer[] = [];
      // One connection in five has a length prefix that lies: the rest of its stream is framed
      // differently, so its answers can only be checked for form.
      const lieAt = c % 5 === 1 ? Math.floor(random() * TCP_FRAMES) : -1;
      for (let i = 0; i < TCP_FRAMES; i++) {
        const p = fuzzer.next();
        if (p.length >= 2) p.writeUInt16BE(i, 0);
        byId.set(i, p);
        frames.push(
          i === lieAt ? Buffer.concat([Buffer.from([0, Math.floor(random() * 256)]), p]) : frame(p),
        );
      }
      tally.sent += TCP_FRAMES;
      // Half the connections end inside a frame: its prefix promises more than is ever sent.
      if (c % 2 === 0) frames.push(Buffer.from([0x01, 0x00, 0xab, 0xcd, 0x01]));
      const stream = Buffer.concat(frames);
      const socket = connect({ host: "127.0.0.1", port });
      let pending = Buffer.alloc(0);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`connection ${c} not closed by the server`)), 30_000);
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
            const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
            pending = pending.subarray(2 + msg.length);
            if (lieAt >= 0) check(tally, undefined, msg, false);
            else check(tally, msg.length >= 2 ? byId.get(msg.readUInt16BE(0)) : undefined, msg);
          }
        });
        socket.on("close", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.on("connect", async () => {
          // Written in pieces of random sizes, so frames split across and batch within segments.
          for (let at = 0; at < stream.length; ) {
            const size = 1 + Math.floor(random() * 1500);
            socket.write(stream.subarray(at, at + size));
            at += size;
            if (random() < 0.1) await sleep(0);
          }
          socket.end();
        });
      });
      assert.equal(pending.length, 0, `connection ${c}: a partial answer frame`);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < TCP_CONNECTIONS) {
          await one(next++);
        }
      }),
    );
    const dropped = await counted("dropped", "tcp");
    process.stdout.write(
      `# tcp: sent ${tally.sent}, answered ${tally.answered} (FORMERR ${tally.formerr}), dropped by the replicas ${dropped}\n`,
    );
    assert.deepEqual(tally.bad.slice(0, 10), [], `${tally.bad.length} malformed answers`);
    assert.ok(tally.answered > tally.sent / 10 && dropped > 0);
  });

  it("is still running on both replicas and answers a normal query correctly over UDP and TCP", async () => {
    for (const r of replicas) {
      assert.equal(r.process.child.exitCode, null, `${r.name} is running`);
      const errors = r.process.lines.filter((l) => typeof l !== "string" && (l.level ?? 0) >= 50);
      assert.deepEqual(errors, [], `${r.name} logged no errors`);
    }
    const q = query("Www.Example.Test", 1, { id: 4242, udpSize: 1232 });
    for (const [transport, batch] of [
      ["udp", udpBatch],
      ["tcp", tcpBatch],
    ] as const) {
      const [answer] = await batch(port, [q]);
      assert.ok(answer, `an answer over ${transport}`);
      const d = decode(answer);
      assert.equal(header(answer).rcode, 0);
      assert.equal(d.questions?.[0]?.name, "Www.Example.Test");
      assert.deepEqual(
        d.answers?.map((a) => `${a.type} ${String((a as { data: unknown }).data).toLowerCase()}`),
        ["CNAME web.example.test", "A 192.0.2.80"],
      );
    }
  });
});
