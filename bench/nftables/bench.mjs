#!/usr/bin/env node
/**
 * bench/nftables: an `engine: nftables` route (kernel DNAT programmed by the agent) against the edge's
 * userland `forward` route to the same backend, and plain routing to the backend as the floor, in one
 * run, in three network namespaces (client, router, server). Started by run.sh (root needed).
 *
 * Settings (environment): BENCH_ROUNDS (3), BENCH_RATE_SECONDS (5), BENCH_CONC (50),
 * BENCH_BULK_ROUNDS (3), BENCH_BULK_BYTES (2 GiB in total), BENCH_BULK_CONNS (4),
 * LOADGEN (path of the compiled loadgen), BENCH_OUT (results file).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { machineBusySeconds, run, sample, sleep, start } from "../handoff/procs.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const env = process.env;
const settings = {
  rounds: Number(env.BENCH_ROUNDS ?? 3),
  rateSeconds: Number(env.BENCH_RATE_SECONDS ?? 5),
  conc: Number(env.BENCH_CONC ?? 50),
  bulkRounds: Number(env.BENCH_BULK_ROUNDS ?? 3),
  bulkBytes: Number(env.BENCH_BULK_BYTES ?? 2 * 1024 ** 3),
  bulkConns: Number(env.BENCH_BULK_CONNS ?? 4),
};
const loadgen = env.LOADGEN ?? join(here, "../handoff/.loadgen");
const log = (...args) => process.stderr.write(`# ${args.join(" ")}\n`);

const NS = {
  client: `sybench${process.pid}-a`,
  router: `sybench${process.pid}-r`,
  server: `sybench${process.pid}-b`,
};
/**
 * Where the client connects for each path, and the backend port behind it: the same backend code in
 * the same namespace, one port per path. With one port, the routed path's conntrack entries (TIME_WAIT
 * lasts 120 s) would hold the very tuples the DNAT path's connections need at the backend.
 */
const BACKEND_HOST = "10.2.0.2";
const PATHS = {
  routed: {
    host: BACKEND_HOST,
    port: 9000,
    backend: 9000,
    what: "plain routing to the backend (no NAT, no proxy)",
  },
  nftables: {
    host: "10.1.0.1",
    port: 8080,
    backend: 9001,
    what: "route engine: nftables (kernel DNAT by the agent)",
  },
  forward: { host: "10.1.0.1", port: 8081, backend: 9002, what: "`forward` route (stream pool, splice)" },
};
const ORDER = Object.keys(PATHS);

const sh = (cmd, args) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const ip = (...args) => sh("ip", args);
const inNs = (ns, command, args) => ["ip", ["netns", "exec", ns, command, ...args]];

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function topology() {
  for (const ns of Object.values(NS)) {
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
  }
  ip(
    "link",
    "add",
    "name",
    "ra",
    "netns",
    NS.router,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    NS.client,
  );
  ip(
    "link",
    "add",
    "name",
    "rb",
    "netns",
    NS.router,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    NS.server,
  );
  ip("-n", NS.router, "addr", "add", "10.1.0.1/24", "dev", "ra");
  ip("-n", NS.router, "addr", "add", "10.2.0.1/24", "dev", "rb");
  ip("-n", NS.client, "addr", "add", "10.1.0.2/24", "dev", "eth0");
  ip("-n", NS.server, "addr", "add", "10.2.0.2/24", "dev", "eth0");
  for (const [ns, dev] of [
    [NS.router, "ra"],
    [NS.router, "rb"],
    [NS.client, "eth0"],
    [NS.server, "eth0"],
  ])
    ip("-n", ns, "link", "set", dev, "up");
  ip("-n", NS.client, "route", "add", "default", "via", "10.1.0.1");
  ip("-n", NS.server, "route", "add", "default", "via", "10.2.0.1");
  sh("ip", ["netns", "exec", NS.router, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
}

function teardown() {
  for (const ns of Object.values(NS)) {
    try {
      ip("netns", "del", ns);
    } catch {
      // not created
    }
  }
}

function machine() {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "unknown",
    kernel: sh("uname", ["-r"]).trim(),
    node: process.version,
    nft: sh("nft", ["--version"]).trim(),
    load: readFileSync("/proc/loadavg", "utf8").trim(),
  };
}

async function measure(procs, fn) {
  const before = Object.fromEntries(procs.map((p) => [p.name, sample(p.pid).cpuSeconds]));
  const busy0 = machineBusySeconds().busy;
  const result = await fn();
  const busy = machineBusySeconds().busy - busy0;
  const cpu = Object.fromEntries(procs.map((p) => [p.name, sample(p.pid).cpuSeconds - before[p.name]]));
  return { ...result, machineCpuSeconds: busy, processCpuSeconds: cpu };
}

async function rateRun(path, seconds, procs) {
  const { host, port } = PATHS[path];
  const [cmd, args] = inNs(NS.client, loadgen, [
    "rate",
    "-a",
    host,
    "-p",
    String(port),
    "-c",
    String(settings.conc),
    "-d",
    String(seconds),
    "-n",
    "2000000",
    "-r",
    "100",
  ]);
  const out = await measure(procs, async () => {
    const [line] = await run(`rate-${path}`, cmd, args, { timeoutMs: (seconds + 30) * 1000 });
    return line;
  });
  const errors = out.errConnect + out.errAddr + out.errReset + out.errShort + out.errOther;
  if (out.ok === 0 || errors > out.ok * 0.01) throw new Error(`${path}: ${JSON.stringify(out)}`);
  return { path, rate: out.ok / out.seconds, cpuUsPerConn: (out.machineCpuSeconds / out.ok) * 1e6, ...out };
}

async function bulkRun(path, procs) {
  const { host, port } = PATHS[path];
  const perConn = Math.floor(settings.bulkBytes / settings.bulkConns);
  const [cmd, args] = inNs(NS.client, loadgen, [
    "bulk",
    "-a",
    host,
    "-p",
    String(port),
    "-c",
    String(settings.bulkConns),
    "-b",
    String(perConn),
    "-d",
    "120",
  ]);
  const out = await measure(procs, async () => {
    const [line] = await run(`bulk-${path}`, cmd, args, { timeoutMs: 150_000 });
    return line;
  });
  if (out.timedOut || out.bytes < perConn * settings.bulkConns)
    throw new Error(`${path}: ${JSON.stringify(out)}`);
  return { path, gibPerSecond: out.bytes / 1024 ** 3 / out.seconds, ...out };
}

function table(headers, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

async function main() {
  const loadAtStart = readFileSync("/proc/loadavg", "utf8").trim();
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-nft-"));
  const procs = [];
  try {
    topology();
    const token = join(dir, "admin.token");
    writeFileSync(token, randomBytes(16).toString("hex"));
    const config = join(dir, "switchyard.yaml");
    writeFileSync(
      config,
      [
        "edge:",
        "  addresses: [10.1.0.1]",
        "  grpc: 127.0.0.1:10900",
        "  metrics: 127.0.0.1:10901",
        `  handoff: { socket: ${join(dir, "handoff.sock")} }`,
        "nats: { servers: ['nats://127.0.0.1:4222'] }",
        "firewall: { grpc: 127.0.0.1:10940, metrics: 127.0.0.1:10941 }",
        "routes:",
        `  - { name: kernel, engine: nftables, match: { ports: [8080] }, action: { type: forward, host: ${BACKEND_HOST}, port: ${PATHS.nftables.backend} } }`,
        `  - { name: userland, match: { ports: [8081] }, action: { type: forward, host: ${BACKEND_HOST}, port: ${PATHS.forward.backend} } }`,
        "",
      ].join("\n"),
    );
    const svcEnv = {
      ...env,
      SWITCHYARD_CONFIG: config,
      SWITCHYARD_ADMIN_TOKEN_FILE: token,
      SWITCHYARD_LOG_LEVEL: "warn",
    };
    const backends = ORDER.map((path) =>
      start(
        `backend-${path}`,
        ...inNs(NS.server, process.execPath, [
          join(repoRoot, "bench/handoff/direct.mjs"),
          String(PATHS[path].backend),
          "0.0.0.0",
        ]),
        { logDir: dir },
      ),
    );
    for (const b of backends) await b.waitFor((l) => l.json?.event === "listening", 10_000, "listening");
    const agent = start(
      "nftables",
      ...inNs(NS.router, process.execPath, [join(repoRoot, "services/nftables/dist/main.js")]),
      {
        env: { ...svcEnv, SWITCHYARD_LOG_LEVEL: "info" },
        logDir: dir,
      },
    );
    await agent.waitFor((l) => l.json?.msg === "nftables agent started", 20_000, "the agent to start");
    const edge = start(
      "edge",
      ...inNs(NS.router, process.execPath, [join(repoRoot, "services/edge/dist/main.js")]),
      {
        env: { ...svcEnv, SWITCHYARD_LOG_LEVEL: "info" },
        logDir: dir,
      },
    );
    await edge.waitFor((l) => l.json?.msg === "edge started", 20_000, "the edge to start");
    // The userland route is relayed by a stream worker (services/stream), not by the edge.
    const stream = start(
      "stream",
      ...inNs(NS.router, process.execPath, [join(repoRoot, "services/stream/dist/main.js")]),
      {
        env: { ...svcEnv, SWITCHYARD_LOG_LEVEL: "info" },
        logDir: dir,
      },
    );
    await stream.waitFor(
      (l) => l.json?.msg === "attached to the edge",
      20_000,
      "the stream worker to attach",
    );
    procs.push(...backends, agent, edge, stream);
    log("warming up every path");
    for (const path of ORDER) await rateRun(path, 1, procs);

    const rate = [];
    for (let round = 0; round < settings.rounds; round++) {
      const order = ORDER.map((_, i) => ORDER[(i + round) % ORDER.length]);
      for (const path of order) {
        const r = await rateRun(path, settings.rateSeconds, procs);
        log(
          `rate round ${round + 1} ${path}: ${r.rate.toFixed(0)} conn/s, ${r.cpuUsPerConn.toFixed(0)} µs CPU/conn`,
        );
        rate.push({ round, ...r });
        await sleep(500);
      }
    }
    const bulk = [];
    for (let round = 0; round < settings.bulkRounds; round++) {
      const order = ORDER.map((_, i) => ORDER[(i + round) % ORDER.length]);
      for (const path of order) {
        const r = await bulkRun(path, procs);
        log(`bulk round ${round + 1} ${path}: ${r.gibPerSecond.toFixed(2)} GiB/s`);
        bulk.push({ round, ...r });
      }
    }
    const summary = (runs, key) =>
      Object.fromEntries(ORDER.map((p) => [p, median(runs.filter((r) => r.path === p).map((r) => r[key]))]));
    const perRound = (runs, key, a, b) =>
      median(
        [...new Set(runs.map((r) => r.round))].map((round) => {
          const x = runs.find((r) => r.round === round && r.path === a)?.[key];
          const y = runs.find((r) => r.round === round && r.path === b)?.[key];
          return x / y;
        }),
      );
    const rates = summary(rate, "rate");
    const cpu = summary(rate, "cpuUsPerConn");
    const gib = summary(bulk, "gibPerSecond");
    const edgeCpu = median(
      rate.filter((r) => r.path === "forward").map((r) => (r.processCpuSeconds.edge / r.ok) * 1e6),
    );
    const results = {
      date: new Date().toISOString(),
      machine: { ...machine(), loadAtStart },
      settings,
      rate: {
        medians: rates,
        cpuUsPerConn: cpu,
        nftablesOverForwardPerRound: perRound(rate, "rate", "nftables", "forward"),
        edgeCpuUsPerForwardedConn: edgeCpu,
        runs: rate,
      },
      bulk: {
        medians: gib,
        nftablesOverForwardPerRound: perRound(bulk, "gibPerSecond", "nftables", "forward"),
        runs: bulk,
      },
    };
    const outDir = join(repoRoot, "bench/results");
    mkdirSync(outDir, { recursive: true });
    const out =
      env.BENCH_OUT ?? join(outDir, `nftables-${results.date.slice(0, 19).replaceAll(":", "")}.json`);
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    const x = (a, b) => `${(a / b).toFixed(2)}×`;
    process.stdout.write(
      [
        `**New connections per second** (connect, 100-byte request, 100-byte reply, close; ${settings.conc} concurrent; median of ${settings.rounds} × ${settings.rateSeconds} s, paths interleaved)`,
        "",
        table(
          ["path", "conn/s", "× forward", "× routed", "machine CPU per conn"],
          ORDER.map((p) => [
            `${p}: ${PATHS[p].what}`,
            rates[p].toFixed(0),
            x(rates[p], rates.forward),
            x(rates[p], rates.routed),
            `${cpu[p].toFixed(0)} µs`,
          ]),
        ),
        "",
        `nftables ÷ forward, median of per-round ratios: ${results.rate.nftablesOverForwardPerRound.toFixed(2)}×. Edge CPU per forwarded connection: ${edgeCpu.toFixed(0)} µs.`,
        "",
        `**Bulk throughput** (${settings.bulkConns} connections, ${(settings.bulkBytes / 1024 ** 3).toFixed(0)} GiB in total, server → client; median of ${settings.bulkRounds})`,
        "",
        table(
          ["path", "GiB/s", "× forward", "× routed"],
          ORDER.map((p) => [p, gib[p].toFixed(2), x(gib[p], gib.forward), x(gib[p], gib.routed)]),
        ),
        "",
        `nftables ÷ forward, median of per-round ratios: ${results.bulk.nftablesOverForwardPerRound.toFixed(2)}×. Results: ${out}`,
        "",
      ].join("\n"),
    );
  } finally {
    for (const p of procs.reverse()) await p.stop();
    teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
