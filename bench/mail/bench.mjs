/**
 * bench/mail: messages per second accepted with fsync, 10 KB messages, 10 and 50 concurrent
 * senders, through the edge to one Switchyard mail replica, side by side in one run with a private
 * Postfix instance (defaults, and defaults with in_flow_delay = 0). The same load generator
 * (loadgen.mjs) for every target. Rounds interleaved, target order rotated each round.
 *
 * Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10 per run), BENCH_CONC ("10,50"),
 * BENCH_SIZE (10240), BENCH_PER_CONN (10 messages per connection), BENCH_TARGETS
 * ("switchyard,postfix,postfix-noflowdelay"), BENCH_PROFILE (1: the mail worker under --cpu-prof,
 * top frames printed), BENCH_OUT (JSON path; default bench/results/mail-<date>.json).
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, machineBusySeconds, sleep } from "../handoff/procs.mjs";
import { topFrames } from "../handoff/profile-top.mjs";
import { startPostfix } from "./postfix.mjs";

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "../..");
const env = process.env;
const settings = {
  rounds: Number(env.BENCH_ROUNDS ?? 3),
  seconds: Number(env.BENCH_SECONDS ?? 10),
  concurrency: (env.BENCH_CONC ?? "10,50").split(",").map(Number),
  size: Number(env.BENCH_SIZE ?? 10240),
  perConnection: Number(env.BENCH_PER_CONN ?? 10),
  targets: (env.BENCH_TARGETS ?? "switchyard,postfix,postfix-noflowdelay").split(","),
  profile: env.BENCH_PROFILE === "1",
};
const log = (text) => process.stderr.write(`${text}\n`);

const CLK_TCK = 100;
/** utime+stime of every live process in the trees under `roots`, plus the reaped children they waited for. */
function treeCpuSeconds(roots) {
  const stats = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      // f[1] = ppid (field 4); f[11..14] = utime, stime, cutime, cstime (fields 14-17).
      stats.set(Number(name), {
        ppid: Number(f[1]),
        cpu: f.slice(11, 15).reduce((a, b) => a + Number(b), 0),
      });
    } catch {
      // gone
    }
  }
  const inTree = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, s] of stats) {
      if (!inTree.has(pid) && inTree.has(s.ppid)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of inTree) ticks += stats.get(pid)?.cpu ?? 0;
  return ticks / CLK_TCK;
}

/** A service process with its output in a log file (never parsed here: the bench stays quiet). */
function startService(name, args, extraEnv, logDir) {
  const fd = openSync(join(logDir, `${name}.log`), "a");
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...extraEnv },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    pid: child.pid,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitReady(url, what, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} not ready at ${url} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function startSwitchyard(dir, logDir) {
  const ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
  const edgeMetrics = await freePort();
  const mailMetrics = await freePort();
  const config = {
    edge: {
      addresses: ["127.0.0.1"],
      grpc: `127.0.0.1:${await freePort()}`,
      metrics: `127.0.0.1:${edgeMetrics}`,
      handoff: { socket: join(dir, "handoff.sock") },
    },
    mail: {
      ports,
      grpc: `127.0.0.1:${await freePort()}`,
      metrics: `127.0.0.1:${mailMetrics}`,
      hostname: "mx.bench.test",
      domains: ["bench.test"],
      mailboxes: [{ address: "sink@bench.test" }],
      spool: join(dir, "spool"),
      limits: { maxConnectionsPerIp: 0 },
      inbound: { verify: false },
      authLimits: { banSeconds: 0 },
    },
  };
  const configPath = join(dir, "switchyard.yaml");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const tokenFile = join(dir, "admin.token");
  await writeFile(tokenFile, randomBytes(32).toString("hex"), { mode: 0o600 });
  const common = {
    SWITCHYARD_CONFIG: configPath,
    SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile,
    SWITCHYARD_LOG_LEVEL: "info",
  };
  const edge = startService("edge", [join(repoRoot, "services/edge/dist/main.js")], common, logDir);
  await waitReady(`http://127.0.0.1:${edgeMetrics}/healthz`, "the edge");
  const profArgs = settings.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(dir, "profile")}`] : [];
  const mail = startService(
    "mail",
    [...profArgs, join(repoRoot, "services/mail/dist/main.js")],
    { ...common, SWITCHYARD_INSTANCE: "bench-mail" },
    logDir,
  );
  await waitReady(`http://127.0.0.1:${mailMetrics}/readyz`, "the mail worker");
  const maildir = join(dir, "spool", "bench.test", "sink", "new");
  let runsMoved = 0;
  return {
    name: "switchyard",
    label: "Switchyard (edge → 1 mail replica)",
    port: ports.smtp,
    pids: () => [edge.pid, mail.pid],
    /**
     * Messages in the Maildir; then moves `new/` aside (one rename). The copies are deleted only at
     * the end: a burst of thousands of unlinks would make the next runs' file creations slower (on
     * this machine's ext4 without a journal, inode allocation scans past inodes freed in the last
     * 30 s), which is the harness's cost, not the server's.
     */
    async delivered() {
      const names = await readdir(maildir).catch(() => []);
      await rename(maildir, `${maildir}.${++runsMoved}`).catch(() => {});
      return names.length;
    },
    async stop() {
      await mail.stop();
      await edge.stop();
    },
  };
}

async function startPostfixTarget(name, label, dir, logDir, extra) {
  const port = await freePort();
  const postfix = await startPostfix({ dir: join(dir, name), port, logDir, extra });
  return {
    name,
    label,
    port,
    pids: () => [postfix.pid],
    async delivered() {
      return undefined;
    },
    stop: () => postfix.stop(),
  };
}

async function loadgen(port, concurrency, seconds) {
  const args = [
    join(here, "loadgen.mjs"),
    JSON.stringify({
      port,
      concurrency,
      seconds,
      size: settings.size,
      perConnection: settings.perConnection,
    }),
  ];
  const { stdout } = await exec(process.execPath, args, {
    timeout: (seconds + 30) * 1000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split("\n").pop());
}

async function measure(target, concurrency, seconds) {
  const busy0 = machineBusySeconds().busy;
  const cpu0 = treeCpuSeconds(target.pids());
  const result = await loadgen(target.port, concurrency, seconds);
  const serverCpu = treeCpuSeconds(target.pids()) - cpu0;
  const busy = machineBusySeconds().busy - busy0;
  const delivered = await target.delivered();
  return {
    ...result,
    target: target.name,
    concurrency,
    serverCpuSeconds: serverCpu,
    serverCpuMsPerMessage: result.messages ? (serverCpu * 1000) / result.messages : null,
    otherCpuSeconds: busy - serverCpu - result.loadgenCpuSeconds,
    delivered,
  };
}

const median = (xs) => {
  const s = [...xs].filter((x) => x !== null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, digits = 0) => (x === null || x === undefined ? "–" : x.toFixed(digits));

function report(runs, targets) {
  const lines = [];
  for (const concurrency of settings.concurrency) {
    const of = (name) => runs.filter((r) => r.target === name && r.concurrency === concurrency);
    const base = median(of("postfix").map((r) => r.perSecond));
    lines.push(
      "",
      `**${concurrency} concurrent senders** (${settings.size} B messages, ${settings.perConnection} per connection; median of ${settings.rounds} × ${settings.seconds} s, min–max in brackets)`,
      "",
      "| target | msg/s | × Postfix (medians) | × Postfix (per round) | p50 ms | p99 ms | max ms | server CPU ms/msg | errors |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const t of targets) {
      const rs = of(t.name);
      if (rs.length === 0) continue;
      const rates = rs.map((r) => r.perSecond);
      const p99s = rs.map((r) => r.latencyMs.p99);
      const perRound = rs
        .map((r) => {
          const ref = runs.find(
            (x) => x.target === "postfix" && x.concurrency === concurrency && x.round === r.round,
          );
          return ref ? r.perSecond / ref.perSecond : null;
        })
        .filter((x) => x !== null);
      const errors = rs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
      lines.push(
        `| ${t.label} | ${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}) | ${base ? `${fmt(median(rates) / base, 2)}×` : "–"} | ${perRound.length ? `${fmt(median(perRound), 2)}× (${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)})` : "–"} | ${fmt(median(rs.map((r) => r.latencyMs.p50)), 1)} | ${fmt(median(p99s), 1)} (${fmt(Math.min(...p99s), 1)}–${fmt(Math.max(...p99s), 1)}) | ${fmt(Math.max(...rs.map((r) => r.latencyMs.max)), 0)} | ${fmt(median(rs.map((r) => r.serverCpuMsPerMessage)), 3)} | ${errors} |`,
      );
    }
  }
  const lost = runs.filter((r) => r.delivered !== undefined && r.delivered !== r.messages);
  const other = median(runs.map((r) => r.otherCpuSeconds / r.elapsedSeconds));
  lines.push(
    "",
    `Other processes on the machine used ${fmt(other, 2)} CPUs (median over the runs) while this ran. ` +
      (lost.length === 0
        ? "Every message Switchyard answered 250 was in the Maildir after its run."
        : `MISMATCH: ${lost.map((r) => `${r.messages} accepted, ${r.delivered} delivered`).join("; ")}.`),
  );
  return lines.join("\n");
}

const dir = await mkdtemp(join(tmpdir(), `switchyard-bench-mail-${process.pid}-`));
// Postfix's daemons run as user postfix and must reach their directories below this one.
await chmod(dir, 0o755);
const logDir = join(dir, "logs");
await mkdir(logDir);
const targets = [];
try {
  log(`# bench/mail in ${dir}: ${JSON.stringify(settings)}`);
  for (const name of settings.targets) {
    if (name === "switchyard") targets.push(await startSwitchyard(dir, logDir));
    else if (name === "postfix")
      targets.push(await startPostfixTarget(name, "Postfix 3.7 (defaults)", dir, logDir, []));
    else if (name === "postfix-noflowdelay")
      targets.push(
        await startPostfixTarget(name, "Postfix 3.7 (`in_flow_delay = 0`)", dir, logDir, [
          "in_flow_delay = 0s",
        ]),
      );
    else throw new Error(`unknown target ${name}`);
  }
  for (const t of targets) {
    log(`# warm-up: ${t.name}`);
    await measure(t, 10, 3);
  }
  const runs = [];
  for (const concurrency of settings.concurrency) {
    for (let round = 0; round < settings.rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of order) {
        const r = { round, ...(await measure(t, concurrency, settings.seconds)) };
        runs.push(r);
        log(
          `# c=${concurrency} round ${round + 1} ${t.name}: ${fmt(r.perSecond)} msg/s, p99 ${fmt(r.latencyMs.p99, 1)} ms, ` +
            `server ${fmt(r.serverCpuMsPerMessage, 3)} ms CPU/msg, errors ${JSON.stringify(r.errors)}` +
            (r.delivered !== undefined ? `, delivered ${r.delivered}/${r.messages}` : ""),
        );
      }
    }
  }
  const table = report(runs, targets);
  process.stdout.write(`${table}\n`);
  const out =
    env.BENCH_OUT ??
    join(repoRoot, "bench/results", `mail-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await mkdir(dirname(out), { recursive: true });
  const machine = {
    cpus: (await exec("nproc")).stdout.trim(),
    kernel: (await exec("uname", ["-r"])).stdout.trim(),
    node: process.version,
  };
  await writeFile(out, JSON.stringify({ settings, machine, runs, table }, null, 2));
  log(`# results: ${out}`);
  if (settings.profile) {
    await targets.find((t) => t.name === "switchyard")?.stop();
    const top = topFrames(join(dir, "profile"), 30);
    process.stdout.write(`\n${top.text}\n`);
  }
} finally {
  for (const t of targets) await t.stop().catch((err) => log(`# stopping ${t.name}: ${err.message}`));
  if (env.BENCH_KEEP !== "1") await rm(dir, { recursive: true, force: true });
  else log(`# kept ${dir}`);
}
