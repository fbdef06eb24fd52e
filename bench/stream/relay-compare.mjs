#!/usr/bin/env node
/**
 * bench/stream/relay-compare: the stream worker's two relays side by side, splice (native) and pipe
 * (Node streams), through the real edge -> stream worker -> backend path. For each relay: bulk (one
 * connection reads BENCH_BULK_MIB from the backend), and connections per second (BENCH_CONNS short
 * exchanges, BENCH_CONC in flight); with the CPU seconds of the edge and the stream worker from
 * /proc/<pid>/stat. Rounds alternate the relays (BENCH_ROUNDS). Used for the decision in
 * docs/decisions.md; prints one JSON line per run and a summary.
 */
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { freePort, startEdge, startStreamReplica } from "../../packages/testkit/dist/index.js";

const env = process.env;
const BULK = Number(env.BENCH_BULK_MIB ?? 1024) * 1024 * 1024;
const CONNS = Number(env.BENCH_CONNS ?? 3000);
const CONC = Number(env.BENCH_CONC ?? 50);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

const chunk = Buffer.alloc(1 << 20, 7);
const backend = createServer((s) => {
  s.on("error", () => {});
  s.once("data", (d) => {
    if (d.toString().startsWith("BULK")) {
      let left = BULK;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once("drain", pump);
        }
        s.end();
      };
      pump();
    } else s.end(Buffer.alloc(100, 1));
  });
});
await new Promise((r) => backend.listen(0, "127.0.0.1", r));
const backendPort = backend.address().port;

function bulk(port) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let got = 0;
    const s = connect({ host: "127.0.0.1", port }, () => s.write("BULK\n"));
    s.on("data", (d) => {
      got += d.length;
    });
    s.on("error", reject);
    s.on("close", () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (got !== BULK) reject(new Error(`bulk got ${got} of ${BULK}`));
      else resolve(seconds);
    });
  });
}

function one(port) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const s = connect({ host: "127.0.0.1", port }, () => s.write("GET\n"));
    s.on("data", (d) => {
      got += d.length;
    });
    s.on("error", reject);
    s.on("close", () => (got === 100 ? resolve() : reject(new Error(`short reply ${got}`))));
  });
}

async function rate(port) {
  const t0 = process.hrtime.bigint();
  let next = 0;
  const lane = async () => {
    while (next < CONNS) {
      next++;
      await one(port);
    }
  };
  await Promise.all(Array.from({ length: CONC }, lane));
  return CONNS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const port = await freePort();
const config = (relay) => ({
  stream: { relay },
  routes: [
    {
      name: "fwd",
      match: { ports: [port] },
      action: { type: "forward", host: "127.0.0.1", port: backendPort },
    },
  ],
});
const edge = await startEdge(config("splice"));
const results = { splice: [], pipe: [], direct: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const relay of round % 2 ? ["pipe", "splice"] : ["splice", "pipe"]) {
      await edge.writeConfig(config(relay));
      const stream = await startStreamReplica(edge, { name: `stream-${relay}` });
      try {
        const e0 = cpuSeconds(edge.process.pid);
        const w0 = cpuSeconds(stream.process.pid);
        const seconds = await bulk(port);
        const e1 = cpuSeconds(edge.process.pid);
        const w1 = cpuSeconds(stream.process.pid);
        const cps = await rate(port);
        const e2 = cpuSeconds(edge.process.pid);
        const w2 = cpuSeconds(stream.process.pid);
        const run = {
          relay,
          bulkMiBps: +(BULK / 1048576 / seconds).toFixed(0),
          bulkEdgeCpuMs: +((e1 - e0) * 1000).toFixed(0),
          bulkStreamCpuMs: +((w1 - w0) * 1000).toFixed(0),
          connsPerSecond: +cps.toFixed(0),
          edgeCpuUsPerConn: +(((e2 - e1) * 1e6) / CONNS).toFixed(0),
          streamCpuUsPerConn: +(((w2 - w1) * 1e6) / CONNS).toFixed(0),
        };
        results[relay].push(run);
        console.log(JSON.stringify(run));
      } finally {
        await stream.stop();
      }
    }
    const seconds = await bulk(backendPort);
    const run = {
      relay: "direct",
      bulkMiBps: +(BULK / 1048576 / seconds).toFixed(0),
      connsPerSecond: +(await rate(backendPort)).toFixed(0),
    };
    results.direct.push(run);
    console.log(JSON.stringify(run));
  }
} finally {
  await edge.stop();
  backend.close();
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const [relay, runs] of Object.entries(results)) {
  const keys = Object.keys(runs[0] ?? {}).filter((k) => k !== "relay");
  console.log(`${relay}: ${keys.map((k) => `${k} ${median(runs.map((r) => r[k]))}`).join(", ")}`);
}
