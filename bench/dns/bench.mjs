#!/usr/bin/env node
/**
 * bench/dns: dnsperf with the same query file against Knot and against Switchyard through the edge
 * (1 and 2 replicas), over UDP and TCP, in one run, rounds interleaved. Started by run.sh; see
 * bench/README.md for what it measures.
 *
 * Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CLIENTS (4), BENCH_OUTSTANDING
 * (100), BENCH_PIN (split | none), BENCH_TRANSPORTS (udp,tcp), BENCH_TARGETS (knot,sy1,sy1d,sy2,bare;
 * also dns2, the dns2 package's server, which needs `npm install --no-save dns2` or DNS2_DIR),
 * BENCH_PROFILE (1: profile one Switchyard replica under --cpu-prof instead), BENCH_OUT,
 * BENCH_DNSSEC (1: the zone signed online, by Knot's mod-onlinesign and by Switchyard's `dnssec`
 * with its key in a NATS server started for the run, and every query with DO=1: dnsperf -D).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  freePort,
  startDnsReplica,
  startEdge,
  startKnot,
  startNatsServer,
  startProcess,
} from "../../packages/testkit/dist/index.js";
import { machineBusySeconds, sample, sleep } from "../handoff/procs.mjs";
import { topFrames } from "../handoff/profile-top.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const env = process.env;
const settings = {
  rounds: Number(env.BENCH_ROUNDS ?? 3),
  seconds: Number(env.BENCH_SECONDS ?? 10),
  clients: Number(env.BENCH_CLIENTS ?? 4),
  outstanding: Number(env.BENCH_OUTSTANDING ?? 100),
  pin: env.BENCH_PIN ?? "split",
  transports: (env.BENCH_TRANSPORTS ?? "udp,tcp").split(","),
  targets: (env.BENCH_TARGETS ?? "knot,sy1,sy1d,sy2,bare").split(","),
  profile: env.BENCH_PROFILE === "1",
  dnssec: env.BENCH_DNSSEC === "1",
};
const pinned = settings.pin === "split";
const SERVER_CPU = "0";
const LOAD_CPU = "1";
const ORIGIN = "bench.test";
const zoneFile = join(here, "bench.test.zone");
const queryFile = join(here, "queries.txt");
const LABELS = {
  knot: "Knot 3.2 (1 thread per transport)",
  sy1: "Switchyard, 1 replica",
  sy1d: "Switchyard, 1 replica, UDP via dgram (dns.udp.batch off)",
  sy2: "Switchyard, 2 replicas",
  bare: "bare Node dgram, fixed answer (reference)",
  dns2: "dns2 3.1 UDP server, answers from a Map (reference)",
};
/** Targets that serve only UDP. */
const UDP_ONLY = new Set(["bare", "dns2"]);
/** Reference servers started as one script (dns2 needs `npm install --no-save dns2` or DNS2_DIR). */
const SCRIPTS = { bare: "bare-udp.mjs", dns2: "dns2-server.mjs" };

const log = (...args) => process.stderr.write(`# ${args.join(" ")}\n`);

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function pin(pid) {
  if (pinned) execFileSync("taskset", ["-a", "-p", "-c", SERVER_CPU, String(pid)], { stdio: "ignore" });
}

/** Starts the servers of one target; resolves with its port, the pids to sample and a stop(). */
async function startTarget(target, profileDir) {
  const name = target;
  if (name === "knot") {
    const knot = await startKnot({
      zones: [{ origin: ORIGIN, text: readFileSync(zoneFile, "utf8"), onlineSign: settings.dnssec }],
      workers: pinned ? 1 : cpus().length,
    });
    pin(knot.pid);
    return { port: knot.port, pids: { knotd: knot.pid }, stop: () => knot.stop() };
  }
  if (SCRIPTS[name]) {
    const port = await freePort();
    const proc = startProcess(name, process.execPath, [join(here, SCRIPTS[name]), String(port)]);
    for (const until = Date.now() + 10_000; !proc.lines.includes("ready"); await sleep(50)) {
      if (Date.now() > until) throw new Error(`${SCRIPTS[name]} did not start`);
    }
    pin(proc.pid);
    return { port, pids: { node: proc.pid }, stop: () => proc.stop() };
  }
  const replicas = name === "sy2" ? 2 : 1;
  const port = await freePort();
  // Signed: the key comes from NATS KV as in production (a server of the run's own).
  const nats = settings.dnssec ? await startNatsServer({ jetstream: true }) : undefined;
  const keyDir = settings.dnssec ? mkdtempSync(join(tmpdir(), "switchyard-bench-key-")) : undefined;
  const edge = await startEdge({
    ...(nats ? { nats: { servers: [nats.url] } } : {}),
    dns: {
      ports: [port],
      zones: [
        {
          origin: ORIGIN,
          file: zoneFile,
          ...(settings.dnssec ? { dnssec: { algorithm: "ecdsap256sha256" } } : {}),
        },
      ],
    },
  });
  const started = [];
  try {
    for (let i = 0; i < replicas; i++) {
      const name = `dns-${i}`;
      // sy1d: the same replica with UDP through Node's dgram instead of recvmmsg/sendmmsg batches.
      const env = {
        SWITCHYARD_DRAIN_TIMEOUT_MS: "1000",
        SWITCHYARD_DNS_UDP_BATCH: target === "sy1d" ? "0" : "1",
        ...(keyDir ? { SWITCHYARD_KV_KEY_FILE: join(keyDir, "kv.key") } : {}),
      };
      started.push(
        profileDir
          ? await profiledReplica(edge, name, profileDir)
          : await startDnsReplica(edge, { name, env }),
      );
    }
    if (settings.dnssec)
      for (const r of started) await r.process.waitForLine((l) => l.msg === "dnssec key ready", 30_000);
  } catch (err) {
    for (const r of started) await r.stop();
    await edge.stop();
    await nats?.stop();
    throw err;
  }
  const pids = { edge: edge.process.pid };
  started.forEach((r, i) => {
    pids[`replica${i + 1}`] = r.process.pid;
  });
  for (const pid of Object.values(pids)) pin(pid);
  return {
    port,
    pids,
    async stop() {
      for (const r of started) await r.stop();
      await edge.stop();
      await nats?.stop();
      if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

/** A replica under `node --cpu-prof` (which NODE_OPTIONS does not allow), as startDnsReplica starts one. */
async function profiledReplica(edge, name, dir) {
  const proc = startProcess(
    name,
    process.execPath,
    ["--cpu-prof", `--cpu-prof-dir=${dir}`, join(repoRoot, "services/dns/dist/main.js")],
    {
      env: {
        ...process.env,
        SWITCHYARD_CONFIG: edge.configPath,
        SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
        SWITCHYARD_EDGE: edge.grpc,
        SWITCHYARD_INSTANCE: name,
        SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
        SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:0",
        SWITCHYARD_DRAIN_TIMEOUT_MS: "1000",
      },
    },
  );
  await proc.waitForLine((l) => l.msg === "serving udp");
  return { process: proc, stop: () => proc.stop() };
}

/** A free port can be taken by another process before the server binds it: try again. */
async function withRetries(fn, attempts = 3) {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      log(`start failed (${err.message.split("\n")[0]}); trying again`);
    }
  }
}

/** One dnsperf run (verbose: one line per answer, from which the latency percentiles come). */
function dnsperf(port, transport, seconds) {
  const args = [
    "-s",
    "127.0.0.1",
    "-p",
    String(port),
    "-m",
    transport,
    "-d",
    queryFile,
    "-l",
    String(seconds),
    "-c",
    String(settings.clients),
    "-q",
    String(settings.outstanding),
    "-t",
    "2",
    "-v",
    ...(settings.dnssec ? ["-D"] : []),
  ];
  const [cmd, argv] = pinned ? ["taskset", ["-c", LOAD_CPU, "dnsperf", ...args]] : ["dnsperf", args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    let latencies = new Float64Array(1 << 20);
    let n = 0;
    const rcodes = {};
    const summary = {};
    let stderr = "";
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("> ")) {
        const sp = line.lastIndexOf(" ");
        if (n === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[n++] = Number(line.slice(sp + 1));
        const rcode = line.slice(2, line.indexOf(" ", 2));
        rcodes[rcode] = (rcodes[rcode] ?? 0) + 1;
        return;
      }
      const m =
        /^\s+(Queries sent|Queries completed|Queries lost|Queries per second|Average Latency \(s\)):\s+([\d.]+)/.exec(
          line,
        );
      if (m) summary[m[1]] = Number(m[2]);
    });
    child.once("exit", (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`dnsperf exited ${code}: ${stderr.slice(-1000)}`));
      const sorted = latencies.subarray(0, n).sort();
      const pct = (p) => (n ? sorted[Math.min(n - 1, Math.floor((n * p) / 100))] * 1000 : Number.NaN);
      resolvePromise({
        qps: summary["Queries per second"],
        sent: summary["Queries sent"],
        completed: summary["Queries completed"],
        lost: summary["Queries lost"],
        avgMs: summary["Average Latency (s)"] * 1000,
        p50Ms: pct(50),
        p99Ms: pct(99),
        rcodes,
      });
    });
  });
}

async function measure(target, transport, seconds) {
  const before = Object.fromEntries(
    Object.entries(target.pids).map(([k, pid]) => [k, sample(pid).cpuSeconds]),
  );
  const busyBefore = machineBusySeconds();
  const result = await dnsperf(target.port, transport, seconds);
  const busyAfter = machineBusySeconds();
  const cpuUsPerQuery = {};
  let ownCpu = 0;
  for (const [k, pid] of Object.entries(target.pids)) {
    const used = sample(pid).cpuSeconds - before[k];
    ownCpu += used;
    cpuUsPerQuery[k] = (used / Math.max(1, result.completed)) * 1e6;
  }
  return {
    ...result,
    cpuUsPerQuery,
    serverCpuSeconds: ownCpu,
    machineBusySeconds: busyAfter.busy - busyBefore.busy,
  };
}

function machine() {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    model: cpuList[0]?.model ?? "unknown",
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    node: process.version,
    knot: execFileSync("knotd", ["--version"], { encoding: "utf8" }).trim(),
    dnsperf: execFileSync("dnsperf", ["-h"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")
      .find((l) => l.startsWith("Version")),
    loadavgAtStart: readFileSync("/proc/loadavg", "utf8").trim(),
  };
}

async function profileRun() {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-dns-prof-"));
  const target = await startTarget("sy1", dir);
  try {
    for (const transport of settings.transports) {
      await dnsperf(target.port, transport, 2);
      const r = await measure(target, transport, settings.seconds);
      log(`${transport}: ${Math.round(r.qps)} qps, replica ${r.cpuUsPerQuery.replica1.toFixed(2)} µs/query`);
    }
  } finally {
    await target.stop();
  }
  process.stdout.write(`${topFrames(dir, 30).text}\n`);
  rmSync(dir, { recursive: true, force: true });
}

function fmt(n, digits = 0) {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

function report(results) {
  const cells = new Map();
  for (const r of results) {
    const key = `${r.target}/${r.transport}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(r);
  }
  const rows = [];
  const goals = [];
  for (const transport of settings.transports) {
    const knot = cells.get(`knot/${transport}`) ?? [];
    const knotQps = median(knot.map((r) => r.qps));
    for (const target of settings.targets) {
      const runs = cells.get(`${target}/${transport}`) ?? [];
      if (runs.length === 0) continue;
      const qps = median(runs.map((r) => r.qps));
      const perRound = runs.map((r) => {
        const k = knot.find((x) => x.round === r.round);
        return k ? r.qps / k.qps : Number.NaN;
      });
      const spread = `${fmt(Math.min(...runs.map((r) => r.qps)))}–${fmt(Math.max(...runs.map((r) => r.qps)))}`;
      const cpu = Object.keys(runs[0].cpuUsPerQuery)
        .map((k) => `${k} ${fmt(median(runs.map((r) => r.cpuUsPerQuery[k])), 2)}`)
        .join(", ");
      rows.push(
        `| ${transport.toUpperCase()} | ${LABELS[target]} | ${fmt(qps)} | ${spread} | ${fmt(qps / knotQps, 2)}× | ${fmt(median(perRound), 2)}× | ${fmt(median(runs.map((r) => r.p50Ms)), 3)} | ${fmt(median(runs.map((r) => r.p99Ms)), 3)} | ${fmt(median(runs.map((r) => (100 * r.lost) / r.sent)), 2)}% | ${cpu} |`,
      );
      if (target === "sy1") {
        const want = transport === "udp" ? 0.8 : 1.5;
        const ratio = median(perRound);
        goals.push(
          `| ${transport.toUpperCase()} qps ≥ ${want}× Knot (1 replica) | ${fmt(ratio, 2)}× | ${ratio >= want ? "yes" : "**no**"} |`,
        );
        const p50 = median(runs.map((r) => r.p50Ms));
        goals.push(
          `| ${transport.toUpperCase()} p50 < 2 ms (1 replica) | ${fmt(p50, 3)} ms | ${p50 < 2 ? "yes" : "**no**"} |`,
        );
      }
    }
  }
  return [
    "| transport | server | qps (median) | qps range | × Knot (medians) | × Knot (per round) | p50 ms | p99 ms | lost | server CPU µs/query |",
    "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows,
    "",
    "| goal | measured | met |",
    "| --- | ---: | :---: |",
    ...goals,
  ].join("\n");
}

async function main() {
  if (settings.profile) return profileRun();
  const info = machine();
  log(
    `${settings.rounds} rounds × ${settings.targets.length} servers × ${settings.transports.join("+")}, ${settings.seconds} s each, pin ${settings.pin}`,
  );
  const targets = {};
  try {
    for (const name of settings.targets) targets[name] = await withRetries(() => startTarget(name));
    for (const [name, t] of Object.entries(targets)) {
      for (const transport of settings.transports) {
        if (transport === "udp" || !UDP_ONLY.has(name)) await dnsperf(t.port, transport, 2); // warm-up
      }
      log(`${name} ready on ${t.port}`);
    }
    const results = [];
    for (let round = 0; round < settings.rounds; round++) {
      const order = settings.targets.map((_, i) => settings.targets[(i + round) % settings.targets.length]);
      for (const transport of settings.transports) {
        for (const name of order) {
          if (transport !== "udp" && UDP_ONLY.has(name)) continue;
          const r = await measure(targets[name], transport, settings.seconds);
          results.push({ round, target: name, transport, ...r });
          log(
            `round ${round + 1} ${transport} ${name}: ${fmt(r.qps)} qps, p50 ${fmt(r.p50Ms, 3)} ms, p99 ${fmt(r.p99Ms, 3)} ms, lost ${r.lost}`,
          );
          await sleep(500);
        }
      }
    }
    const table = report(results);
    const out =
      env.BENCH_OUT ??
      join(repoRoot, "bench/results", `dns-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ settings, machine: info, results, table }, null, 2));
    process.stdout.write(`${table}\n`);
    log(`results: ${out}`);
  } finally {
    for (const t of Object.values(targets)) await t.stop();
  }
}

await main();
