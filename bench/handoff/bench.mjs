#!/usr/bin/env node
/**
 * bench/handoff: the edge's fd handoff against a direct connection, a forward route (stream pool) and
 * HAProxy (tcp mode), all in one run, side by side. Started by run.sh (which installs, builds, raises
 * the fd limit and compiles the load generator); see bench/README.md for what each part measures.
 *
 * Settings (environment): BENCH_ROUNDS (5), BENCH_RATE_SECONDS (10), BENCH_CONC (50),
 * BENCH_BULK_BYTES (4 GiB in total), BENCH_BULK_CONNS (4), BENCH_BULK_ROUNDS (5), BENCH_HOLD (5000),
 * BENCH_PIN (none | split), BENCH_PROFILE (1 or handoff: only profile the edge and the worker on the
 * handoff path; forward: the edge and the stream worker on the forward path),
 * BENCH_PHASES (hold,rate,bulk: which parts to run), BENCH_SETTLE_MS (20000, see holdPhase),
 * LOADGEN (path of the compiled loadgen), BENCH_OUT (results file), BENCH_STREAM_MAIN (the stream
 * worker's main.js to run, e.g. an older build for a before/after; default services/stream/dist),
 * BENCH_RELAY_THREADS (stream.relayThreads; default: the stream section's default, one per CPU).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REPLY } from "./backend.mjs";
import { collectAndMeasure } from "./inspector.mjs";
import { freePort, machineBusySeconds, run, sample, sleep, start, waitForPort } from "./procs.mjs";
import { topFrames } from "./profile-top.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const env = process.env;
const settings = {
  rounds: Number(env.BENCH_ROUNDS ?? 5),
  rateSeconds: Number(env.BENCH_RATE_SECONDS ?? 10),
  conc: Number(env.BENCH_CONC ?? 50),
  bulkBytes: Number(env.BENCH_BULK_BYTES ?? 4 * 1024 ** 3),
  bulkConns: Number(env.BENCH_BULK_CONNS ?? 4),
  bulkRounds: Number(env.BENCH_BULK_ROUNDS ?? 5),
  hold: Number(env.BENCH_HOLD ?? 5000),
  pin: env.BENCH_PIN ?? "none",
  // "1" or "handoff": the edge and the handoff worker; "forward": the edge and the stream worker.
  profile: env.BENCH_PROFILE === "1" ? "handoff" : (env.BENCH_PROFILE ?? ""),
  phases: (env.BENCH_PHASES ?? "hold,rate,bulk").split(","),
  maxPerRun: 2_000_000,
};
const loadgen = env.LOADGEN ?? join(here, ".loadgen");
const PATHS = ["direct", "handoff", "forward", "haproxy"];
// split: the load generator gets CPU 1, every server (backend, edge, worker, HAProxy) CPU 0.
const genCpus = settings.pin === "split" ? "1" : undefined;
const serverCpus = settings.pin === "split" ? "0" : undefined;

const log = (...args) => process.stderr.write(`${args.join(" ")}\n`);

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function machine() {
  const cpuList = cpus();
  let haproxy = "";
  try {
    haproxy = execFileSync("haproxy", ["-v"], { encoding: "utf8" }).split("\n")[0];
  } catch {
    haproxy = "unknown";
  }
  let load = "";
  try {
    load = readFileSync("/proc/loadavg", "utf8").trim();
  } catch {
    // not Linux
  }
  return {
    cpus: cpuList.length,
    model: cpuList[0]?.model ?? "unknown",
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    node: process.version,
    haproxy,
    loadavgAtStart: load,
    memTotalMiB: Math.round(
      Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]) / 1024,
    ),
  };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), "switchyard-bench-"));
  const logDir = join(work, "logs");
  mkdirSync(logDir);
  // Each a different port: the kernel may give a just-closed ephemeral port again (a forward port
  // equal to the backend's made the edge fail to bind).
  const taken = new Set();
  const distinctPort = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const ports = {
    backend: await distinctPort(),
    handoff: await distinctPort(),
    forward: await distinctPort(),
    haproxy: await distinctPort(),
    grpc: await distinctPort(),
    metrics: await distinctPort(),
    inspect: await distinctPort(),
  };
  const tokenFile = join(work, "admin.token");
  writeFileSync(tokenFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  const configPath = join(work, "switchyard.yaml");
  // JSON is YAML: the edge reads this as its config file.
  const config = {
    edge: {
      addresses: ["127.0.0.1"],
      grpc: `127.0.0.1:${ports.grpc}`,
      metrics: `127.0.0.1:${ports.metrics}`,
      handoff: { socket: join(work, "handoff.sock") },
    },
    routes: [
      {
        name: "bench-handoff",
        match: { ports: [ports.handoff] },
        action: { type: "handoff", pool: "bench" },
      },
      {
        name: "bench-forward",
        match: { ports: [ports.forward] },
        action: { type: "forward", host: "127.0.0.1", port: ports.backend },
      },
    ],
    ...(env.BENCH_RELAY_THREADS ? { stream: { relayThreads: Number(env.BENCH_RELAY_THREADS) } } : {}),
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const haproxyCfg = join(work, "haproxy.cfg");
  writeFileSync(
    haproxyCfg,
    [
      "global",
      "  maxconn 8000",
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "frontend bench",
      `  bind 127.0.0.1:${ports.haproxy}`,
      "  default_backend backend",
      "backend backend",
      `  server s1 127.0.0.1:${ports.backend}`,
      "",
    ].join("\n"),
  );

  const procEnv = { ...env, SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile };
  const profDir = join(repoRoot, "bench/results", `handoff-prof-${stamp()}`);
  const spawnOpts = { logDir, cpus: serverCpus };
  log(`# bench/handoff: work dir ${work}, pin=${settings.pin}, ports ${JSON.stringify(ports)}`);

  const backend = start("backend", process.execPath, [join(here, "direct.mjs"), String(ports.backend)], {
    ...spawnOpts,
    env: procEnv,
  });
  await backend.waitFor((l) => l.json?.event === "listening", 10_000, "listening line");
  // --inspect: (c) asks the edge for a full GC through it (no session is attached at other times).
  const edgeArgs = settings.profile
    ? ["--cpu-prof", `--cpu-prof-dir=${profDir}/edge`]
    : [`--inspect=127.0.0.1:${ports.inspect}`];
  const edge = start("edge", process.execPath, [...edgeArgs, join(repoRoot, "services/edge/dist/main.js")], {
    ...spawnOpts,
    env: {
      ...procEnv,
      SWITCHYARD_CONFIG: configPath,
      SWITCHYARD_LOG_LEVEL: env.SWITCHYARD_LOG_LEVEL ?? "info",
      SWITCHYARD_DRAIN_TIMEOUT_MS: "2000",
    },
  });
  await edge.waitFor((l) => l.json?.msg === "edge started", 20_000, '"edge started"');
  const coldEdge = sample(edge.pid);
  const workerArgs = settings.profile === "handoff" ? ["--cpu-prof", `--cpu-prof-dir=${profDir}/worker`] : [];
  const streamArgs = settings.profile === "forward" ? ["--cpu-prof", `--cpu-prof-dir=${profDir}/stream`] : [];
  const worker = start("worker", process.execPath, [...workerArgs, join(here, "worker.mjs")], {
    ...spawnOpts,
    env: { ...procEnv, SWITCHYARD_EDGE: `127.0.0.1:${ports.grpc}` },
  });
  await worker.waitFor((l) => l.json?.event === "attached", 20_000, "attach");
  // Forward routes are relayed by the stream pool (services/stream): the edge hands them off too.
  const stream = start(
    "stream",
    process.execPath,
    [...streamArgs, resolve(env.BENCH_STREAM_MAIN ?? join(repoRoot, "services/stream/dist/main.js"))],
    {
      ...spawnOpts,
      env: {
        ...procEnv,
        SWITCHYARD_CONFIG: configPath,
        SWITCHYARD_EDGE: `127.0.0.1:${ports.grpc}`,
        SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
        SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:0",
        SWITCHYARD_LOG_LEVEL: env.SWITCHYARD_LOG_LEVEL ?? "info",
      },
    },
  );
  await stream.waitFor((l) => l.json?.msg === "attached to the edge", 20_000, "stream attach");
  const haproxy = settings.profile
    ? null
    : start("haproxy", "haproxy", ["-db", "-f", haproxyCfg], { ...spawnOpts, env: procEnv });
  if (haproxy) await waitForPort(ports.haproxy, 10_000);

  const portOf = {
    direct: ports.backend,
    handoff: ports.handoff,
    forward: ports.forward,
    haproxy: ports.haproxy,
  };
  // The processes whose CPU each path costs (besides the load generator).
  const servers = { backend, edge, worker, stream, ...(haproxy ? { haproxy } : {}) };
  const serversOf = {
    direct: ["backend"],
    handoff: ["edge", "worker"],
    forward: ["edge", "stream", "backend"],
    haproxy: ["haproxy", "backend"],
  };
  const sampleAll = () => Object.fromEntries(Object.entries(servers).map(([k, p]) => [k, sample(p.pid)]));
  const cpuDelta = (before, after, names) =>
    Object.fromEntries(names.map((n) => [n, +(after[n].cpuSeconds - before[n].cpuSeconds).toFixed(3)]));

  const windows = [];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  // The CPU time of everything else on this shared machine during a run: busy time of all CPUs less
  // what the benchmark's own processes used (softirq work of loopback TCP can land on either side).
  const otherCpu = (m0, m1, ours) => +(m1.busy - m0.busy - ours).toFixed(2);
  const rate = async (path, seconds, maxCount = settings.maxPerRun) => {
    const before = sampleAll();
    const m0 = machineBusySeconds();
    const w0 = nowUs();
    const [result] = await run(
      "loadgen",
      loadgen,
      ["rate", "-p", String(portOf[path]), "-c", String(settings.conc), "-d", String(seconds)].concat([
        "-n",
        String(maxCount),
        "-r",
        String(REPLY.length),
      ]),
      { timeoutMs: (seconds + 20) * 1000, cpus: genCpus },
    );
    windows.push([w0, nowUs()]);
    const after = sampleAll();
    const m1 = machineBusySeconds();
    const serverCpu = cpuDelta(before, after, serversOf[path]);
    const ours = result.cpu_s + Object.values(serverCpu).reduce((a, b) => a + b, 0);
    return { path, ...result, serverCpu, otherCpuSeconds: otherCpu(m0, m1, ours) };
  };
  const bulk = async (path) => {
    const perConn = Math.floor(settings.bulkBytes / settings.bulkConns);
    const before = sampleAll();
    const m0 = machineBusySeconds();
    const [result] = await run(
      "loadgen",
      loadgen,
      [
        "bulk",
        "-p",
        String(portOf[path]),
        "-c",
        String(settings.bulkConns),
        "-b",
        String(perConn),
        "-d",
        "120",
      ],
      { timeoutMs: 130_000, cpus: genCpus },
    );
    const after = sampleAll();
    const m1 = machineBusySeconds();
    const serverCpu = cpuDelta(before, after, serversOf[path]);
    const ours = result.cpu_s + Object.values(serverCpu).reduce((a, b) => a + b, 0);
    return { path, ...result, serverCpu, otherCpuSeconds: otherCpu(m0, m1, ours) };
  };
  const checkRun = (r, what) => {
    const errors = Object.values(r.errors ?? {}).reduce((a, b) => a + b, 0);
    if (r.ok === 0) throw new Error(`${what} on ${r.path}: no successful connection: ${JSON.stringify(r)}`);
    if (errors > 0) log(`  ! ${what} on ${r.path}: ${errors} errors ${JSON.stringify(r.errors)}`);
  };

  const paths = settings.profile ? [settings.profile] : PATHS;
  // The process profiled beside the edge on that path.
  const profiled = settings.profile === "forward" ? "stream" : "worker";
  // Warm-up (JIT, pools) and a check that every path answers correctly.
  log("# warm-up: 3 s per path");
  for (const path of paths) {
    const r = await rate(path, 3);
    checkRun(r, "warm-up");
    log(`  ${path.padEnd(8)} ${r.rate.toFixed(0)} conn/s (warm-up)`);
  }

  if (settings.profile) {
    const path = settings.profile;
    log(
      `# profile: ${settings.rounds} × ${settings.rateSeconds} s of ${path} conn/s, edge and ${profiled} under --cpu-prof`,
    );
    windows.length = 0;
    const runs = [];
    for (let i = 0; i < settings.rounds; i++) {
      const r = await rate(path, settings.rateSeconds);
      runs.push(r);
      const us = (n) => ((r.serverCpu[n] * 1e6) / r.ok).toFixed(1);
      log(
        `  ${path}  ${r.rate.toFixed(0)} conn/s, edge ${us("edge")} µs/conn, ${profiled} ${us(profiled)} µs/conn`,
      );
    }
    await Promise.all([worker.stop(10_000), stream.stop(10_000)]);
    await edge.stop(10_000);
    await backend.stop();
    const edgeTop = topFrames(join(profDir, "edge"), 25, windows);
    const workerTop = topFrames(join(profDir, profiled), 25, windows);
    process.stdout.write(`#### edge\n\n${edgeTop.text}\n\n#### ${profiled}\n\n${workerTop.text}\n`);
    const out = env.BENCH_OUT ?? join(repoRoot, "bench/results", `handoff-profile-${stamp()}.json`);
    mkdirSync(dirname(out), { recursive: true });
    const summary = (t) => ({ file: t.file, busyPct: t.busyPct, seconds: t.seconds, frames: t.frames });
    writeFileSync(
      out,
      `${JSON.stringify({ settings, runs, edge: summary(edgeTop), [profiled]: summary(workerTop) }, null, 2)}\n`,
    );
    log(`# profiles in ${profDir}; summary: ${out}`);
    rmSync(work, { recursive: true, force: true, maxRetries: 2 });
    return;
  }

  // (c) first, on an edge that has only seen the warm-up: 0 vs N handed-off connections.
  const has = (phase) => settings.phases.includes(phase);
  if (has("hold")) log(`# (c) edge RSS and CPU: 0 vs ${settings.hold} handed-off connections`);
  const hold = !has("hold")
    ? null
    : await holdPhase({
        edge,
        worker,
        port: ports.handoff,
        metricsPort: ports.metrics,
        inspectPort: ports.inspect,
        coldEdge,
      });
  for (const [i, c] of (hold?.cycles ?? []).entries()) {
    log(
      `  cycle ${i + 1}: edge RSS after GC ${c.zero.gc.edge.rssKiB} KiB → ${c.held.gc.edge.rssKiB} KiB with ` +
        `${c.ready.held} held (${signed(c.rssRatioGc)}; heap ${c.heapDeltaKiB >= 0 ? "+" : ""}${c.heapDeltaKiB} KiB); ` +
        `without GC ${signed(c.rssRatio)}, peak ${signed(c.rssRatioPeak)}; ` +
        `worker fds ${c.zero.last.worker.fds} → ${c.held.last.worker.fds}`,
    );
  }

  // (a) new connections per second: rounds × paths, the order rotated each round.
  const rateRounds = has("rate") ? settings.rounds : 0;
  const bulkRounds = has("bulk") ? settings.bulkRounds : 0;
  if (rateRounds)
    log(
      `# (a) conn/s: ${settings.rounds} rounds × ${paths.length} paths × ${settings.rateSeconds} s, conc ${settings.conc}`,
    );
  const rateRuns = [];
  for (let round = 0; round < rateRounds; round++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(i + round) % paths.length];
      const r = await rate(path, settings.rateSeconds);
      checkRun(r, "rate");
      rateRuns.push({ round, ...r });
      log(
        `  round ${round + 1} ${path.padEnd(8)} ${r.rate.toFixed(0).padStart(6)} conn/s  p50 ${r.p50_us} µs`,
      );
      await sleep(1000);
    }
  }

  // (b) bulk: 4 connections, 4 GiB in total, per path, rotated.
  if (bulkRounds)
    log(
      `# (b) bulk: ${settings.bulkRounds} rounds × ${paths.length} paths, ${settings.bulkConns} conns, ${fmtBytes(settings.bulkBytes)}`,
    );
  const bulkRuns = [];
  for (let round = 0; round < bulkRounds; round++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(i + round) % paths.length];
      const r = await bulk(path);
      if (r.ok !== settings.bulkConns || r.timedOut)
        throw new Error(`bulk on ${path} failed: ${JSON.stringify(r)}`);
      bulkRuns.push({ round, ...r });
      log(`  round ${round + 1} ${path.padEnd(8)} ${r.gibps.toFixed(2)} GiB/s`);
    }
  }

  const endEdge = sample(edge.pid);
  const metricsText = await fetchText(`http://127.0.0.1:${ports.metrics}/metrics`).catch(() => "");
  await Promise.all([haproxy?.stop(), worker.stop(), stream.stop()]);
  await edge.stop(10_000);
  await backend.stop();

  const summary = summarize(rateRuns, bulkRuns, paths);
  const result = {
    date: new Date().toISOString(),
    machine: machine(),
    settings: { ...settings, pinning: pinText() },
    rate: { runs: rateRuns, ...summary.rate },
    bulk: { runs: bulkRuns, ...summary.bulk },
    hold,
    edgeAtEnd: { ...endEdge, openRecordsMetrics: pickMetrics(metricsText) },
    goals: goals(
      {
        rate: { ...summary.rate, runs: rateRuns.length > 0 },
        bulk: { ...summary.bulk, runs: bulkRuns.length > 0 },
      },
      hold,
    ),
  };
  const out = env.BENCH_OUT ?? join(repoRoot, "bench/results", `handoff-${stamp()}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${markdown(result)}\n`);
  log(`# results: ${out}`);
  rmSync(work, { recursive: true, force: true, maxRetries: 2 });
}

/**
 * (c): V8 sizes its heap by recent allocation, and shrinks it (the "memory reducer") only after some
 * seconds of quiet, so one RSS reading moves ±15% with GC state alone. Each state is therefore held
 * for `settleMs` while RSS is sampled every second; "settled" is the last sample, taken after V8 had
 * time to shrink its heap, and the goal compares settled with settled.
 */
async function holdPhase({ edge, worker, port, metricsPort, inspectPort, coldEdge }) {
  const settleMs = Number(env.BENCH_SETTLE_MS ?? 20_000);
  const active = async () => pickMetrics(await fetchText(`http://127.0.0.1:${metricsPort}/metrics`));
  const idleCpu = (a, b) => +((b.cpuSeconds - a.cpuSeconds) / ((b.at - a.at) / 1000)).toFixed(4);
  const settle = async (ms) => {
    const first = { edge: sample(edge.pid), worker: sample(worker.pid) };
    const series = [first.edge.rssKiB];
    for (let t = 0; t < ms; t += 1000) {
      await sleep(1000);
      series.push(sample(edge.pid).rssKiB);
    }
    const last = { edge: sample(edge.pid), worker: sample(worker.pid), metrics: await active() };
    // Then the same state in a known GC state: after a full collection.
    const memory = await collectAndMeasure(inspectPort);
    const gc = { edge: sample(edge.pid), heapUsedKiB: Math.round(memory.heapUsed / 1024), memory };
    return {
      first,
      last,
      gc,
      edgeRssSeriesKiB: series,
      edgeRssPeakKiB: Math.max(...series),
      edgeIdleCpuShare: idleCpu(first.edge, last.edge),
    };
  };
  const cycle = async () => {
    const zero = await settle(settleMs);
    const holder = start(
      "loadgen-hold",
      loadgen,
      ["hold", "-p", String(port), "-c", String(settings.hold), "-d", "300"],
      { cpus: genCpus, stdin: "pipe" },
    );
    const ready = (await holder.waitFor((l) => l.json?.event === "ready", 120_000, "ready line")).json;
    const held = await settle(settleMs);
    holder.child.stdin.end("\n");
    const done = (await holder.waitFor((l) => l.json?.event === "done", 30_000, "done line")).json;
    await holder.exited;
    const closed = await settle(Math.min(settleMs, 10_000));
    return {
      ready,
      done,
      zero,
      held,
      closed,
      // RSS with N held / RSS with none, both right after a full GC: the goal
      rssRatioGc: +(held.gc.edge.rssKiB / zero.gc.edge.rssKiB).toFixed(4),
      heapDeltaKiB: held.gc.heapUsedKiB - zero.gc.heapUsedKiB,
      // the same without forcing a GC: after `settleMs` of quiet in each state
      rssRatio: +(held.last.edge.rssKiB / zero.last.edge.rssKiB).toFixed(4),
      // right after the burst of N handoffs, before V8 gave anything back
      rssRatioPeak: +(held.edgeRssPeakKiB / zero.last.edge.rssKiB).toFixed(4),
      edgeCpuPerHandoffUs: +(
        ((held.first.edge.cpuSeconds - zero.last.edge.cpuSeconds) * 1e6) /
        ready.held
      ).toFixed(1),
    };
  };
  const first = await cycle();
  const second = await cycle();
  return { connections: settings.hold, settleMs, cold: coldEdge, cycles: [first, second] };
}

function pickMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("switchyard_edge_connections_active{")) continue;
    const route = /route="([^"]+)"/.exec(line)?.[1];
    if (route) out[route] = Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

async function fetchText(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

function summarize(rateRuns, bulkRuns, paths) {
  const rateMedian = Object.fromEntries(
    paths.map((p) => [p, median(rateRuns.filter((r) => r.path === p).map((r) => r.rate))]),
  );
  const bulkMedian = Object.fromEntries(
    paths.map((p) => [p, median(bulkRuns.filter((r) => r.path === p).map((r) => r.gibps))]),
  );
  const cpuPerConn = Object.fromEntries(
    paths.map((p) => {
      const runs = rateRuns.filter((r) => r.path === p);
      const names = Object.keys(runs[0]?.serverCpu ?? {});
      return [
        p,
        Object.fromEntries(
          names.map((n) => [n, +median(runs.map((r) => (r.serverCpu[n] * 1e6) / r.ok)).toFixed(1)]),
        ),
      ];
    }),
  );
  const genCpuPerConn = Object.fromEntries(
    paths.map((p) => [
      p,
      +median(rateRuns.filter((r) => r.path === p).map((r) => (r.cpu_s * 1e6) / r.ok)).toFixed(1),
    ]),
  );
  const p50 = Object.fromEntries(
    paths.map((p) => [p, median(rateRuns.filter((r) => r.path === p).map((r) => r.p50_us))]),
  );
  const ratios = (m) =>
    Object.fromEntries(
      paths.map((p) => [
        p,
        { vsDirect: +(m[p] / m.direct).toFixed(3), vsHaproxy: +(m[p] / m.haproxy).toFixed(3) },
      ]),
    );
  // Ratios within each round too: the noise of this machine moves all four paths of a round together.
  const perRound = (runs, key) => {
    const rounds = [...new Set(runs.map((r) => r.round))];
    return Object.fromEntries(
      paths.map((p) => {
        const values = rounds.map((round) => {
          const of = (q) => runs.find((r) => r.round === round && r.path === q)?.[key];
          return of(p) / of("direct");
        });
        return [p, +median(values).toFixed(3)];
      }),
    );
  };
  return {
    rate: {
      median: rateMedian,
      ratios: ratios(rateMedian),
      medianOfRoundRatiosVsDirect: perRound(rateRuns, "rate"),
      serverCpuUsPerConn: cpuPerConn,
      loadgenCpuUsPerConn: genCpuPerConn,
      p50Us: p50,
    },
    bulk: {
      median: bulkMedian,
      ratios: ratios(bulkMedian),
      medianOfRoundRatiosVsDirect: perRound(bulkRuns, "gibps"),
    },
  };
}

function goals(summary, hold) {
  const r = summary.rate;
  const b = summary.bulk;
  const rateGoals = [
    {
      goal: "handoff conn/s ≥ 0.8× direct",
      measured: `${r.ratios.handoff.vsDirect}×`,
      met: r.ratios.handoff.vsDirect >= 0.8,
    },
    {
      goal: "handoff conn/s above HAProxy (same run)",
      measured: `${r.ratios.handoff.vsHaproxy}×`,
      met: r.ratios.handoff.vsHaproxy > 1,
    },
  ];
  const bulkGoals = [
    {
      goal: "handoff bulk ≥ 0.97× direct",
      measured: `${b.ratios.handoff.vsDirect}×`,
      met: b.ratios.handoff.vsDirect >= 0.97,
    },
  ];
  if (!hold) return [...(r.runs ? rateGoals : []), ...(b.runs ? bulkGoals : [])];
  const holdGoals = [
    ...hold.cycles.map((c, i) => ({
      goal: `edge RSS flat (±10%) from 0 to ${hold.connections} connections (cycle ${i + 1}, after a full GC)`,
      measured: `${signed(c.rssRatioGc)} (${c.ready.held} held)`,
      met: Math.abs(c.rssRatioGc - 1) <= 0.1 && c.ready.held === hold.connections,
    })),
    ...hold.cycles.map((c, i) => ({
      goal: `the same, GC not forced: RSS after ${hold.settleMs / 1000} s quiet in each state (cycle ${i + 1})`,
      measured: `${signed(c.rssRatio)}`,
      met: Math.abs(c.rssRatio - 1) <= 0.1 && c.ready.held === hold.connections,
    })),
  ];
  return [...(r.runs ? rateGoals : []), ...(b.runs ? bulkGoals : []), ...holdGoals];
}

function pinText() {
  return settings.pin === "split"
    ? "taskset: load generator on CPU 1; backend, edge, worker and HAProxy on CPU 0"
    : "none (every process free to run on both CPUs)";
}

function fmtBytes(n) {
  return n >= 1024 ** 3
    ? `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 ? 2 : 0)} GiB`
    : `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

function stamp() {
  return new Date().toISOString().replace(/[:]/g, "").replace(/\..*/, "");
}

function markdown(result) {
  const { rate, bulk, hold, machine: m, settings: s } = result;
  const paths = Object.keys(rate.median);
  const label = {
    direct: "direct (backend)",
    handoff: "edge handoff → worker",
    forward: "`forward` route (stream pool, splice)",
    haproxy: "HAProxy `mode tcp`",
  };
  const x = (v) => `${v.toFixed(2)}×`;
  const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
  const lines = [];
  lines.push(`### bench/handoff — ${result.date}`);
  lines.push("");
  lines.push(
    `Machine: ${m.cpus} × ${m.model}, ${m.memTotalMiB} MiB, Linux ${m.kernel}, Node ${m.node}, ${m.haproxy}. ` +
      `Load average at start: ${m.loadavgAtStart.split(" ").slice(0, 3).join(" ")}.`,
  );
  lines.push(`Pinning: ${s.pinning}.`);
  lines.push("");
  if (rate.runs.length > 0) {
    lines.push(
      `**(a) New connections per second** (connect, 100-byte request, 100-byte reply, close; ${s.conc} concurrent; ` +
        `median of ${s.rounds} × ${s.rateSeconds} s, paths interleaved)`,
    );
    lines.push("");
    lines.push(
      "| path | conn/s | × direct | × HAProxy | per-round × direct | p50 latency | server CPU per conn |",
    );
    lines.push("|---|---:|---:|---:|---:|---:|---|");
    for (const p of paths) {
      const cpu = Object.entries(rate.serverCpuUsPerConn[p])
        .map(([k, v]) => `${k} ${v} µs`)
        .join(", ");
      lines.push(
        `| ${label[p]} | ${Math.round(rate.median[p])} | ${x(rate.ratios[p].vsDirect)} | ${x(rate.ratios[p].vsHaproxy)} | ` +
          `${x(rate.medianOfRoundRatiosVsDirect[p])} | ${(rate.p50Us[p] / 1000).toFixed(2)} ms | ${cpu} |`,
      );
    }
    lines.push("");
    const totalCpu = (p) =>
      Object.values(rate.serverCpuUsPerConn[p]).reduce((a, b) => a + b, 0) + rate.loadgenCpuUsPerConn[p];
    lines.push(
      "CPU per connection, all processes of a path together (servers and load generator; less sensitive to the " +
        "machine's other tenants than the rates): " +
        paths
          .map(
            (p) =>
              `${p} ${totalCpu(p).toFixed(0)} µs (${x(totalCpu("direct") / totalCpu(p))} direct's rate if CPU-bound)`,
          )
          .join(", ") +
        `. Other processes on the machine used ${median(rate.runs.map((r) => r.otherCpuSeconds / r.seconds)).toFixed(2)} CPUs ` +
        "(median over the runs) while this ran.",
    );
    lines.push("");
  }
  if (bulk.runs.length > 0) {
    lines.push(
      `**(b) Bulk throughput** (${s.bulkConns} established connections, ${fmtBytes(s.bulkBytes)} in total, server → client; ` +
        `median of ${s.bulkRounds})`,
    );
    lines.push("");
    lines.push("| path | GiB/s | × direct | × HAProxy | per-round × direct |");
    lines.push("|---|---:|---:|---:|---:|");
    for (const p of paths) {
      lines.push(
        `| ${label[p]} | ${bulk.median[p].toFixed(2)} | ${x(bulk.ratios[p].vsDirect)} | ${x(bulk.ratios[p].vsHaproxy)} | ` +
          `${x(bulk.medianOfRoundRatiosVsDirect[p])} |`,
      );
    }
    lines.push("");
  }
  if (hold) {
    lines.push(
      `**(c) Edge with 0 vs ${hold.connections} concurrent handed-off connections** (two cycles on one edge; each state ` +
        `held ${hold.settleMs / 1000} s with RSS sampled every second, then a full GC through the inspector)`,
    );
    lines.push("");
    lines.push(
      "| cycle | state | edge RSS after GC | edge heap used after GC | edge RSS before GC (peak) | edge fds | " +
        "edge CPU, share of a core | edge `connections_active` | worker RSS | worker fds |",
    );
    lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    const act = (mt) => mt?.["bench-handoff"] ?? "?";
    for (const [i, c] of hold.cycles.entries()) {
      const row = (state, st, note = "") =>
        lines.push(
          `| ${i + 1} | ${state} | ${mib(st.gc.edge.rssKiB)}${note} | ${mib(st.gc.heapUsedKiB)} | ` +
            `${mib(st.last.edge.rssKiB)} (${mib(st.edgeRssPeakKiB)}) | ${st.last.edge.fds} | ` +
            `${pct(st.edgeIdleCpuShare)} | ${act(st.last.metrics)} | ${mib(st.last.worker.rssKiB)} | ${st.last.worker.fds} |`,
        );
      row("0 connections", c.zero);
      row(`${c.ready.held} held`, c.held, ` (${signed(c.rssRatioGc)})`);
      row("all closed", c.closed);
    }
    lines.push("");
    lines.push(
      `Edge CPU to hand off the ${hold.connections} connections: ` +
        hold.cycles.map((c) => `${c.edgeCpuPerHandoffUs} µs each`).join(", ") +
        `. A fresh edge before any traffic: ${mib(hold.cold.rssKiB)}; at the end of the whole run: ` +
        `${mib(result.edgeAtEnd.rssKiB)}, \`connections_active\` ${result.edgeAtEnd.openRecordsMetrics["bench-handoff"] ?? "?"}.`,
    );
    lines.push("");
  }
  lines.push("**Goals**");
  lines.push("");
  lines.push("| goal | measured | met |");
  lines.push("|---|---:|:---:|");
  for (const g of result.goals) lines.push(`| ${g.goal} | ${g.measured} | ${g.met ? "yes" : "**no**"} |`);
  return lines.join("\n");
}

function pct(share) {
  return `${(share * 100).toFixed(2)}%`;
}

function signed(ratio) {
  const pct = ratio * 100 - 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench failed: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
