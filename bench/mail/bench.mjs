/**
 * bench/mail: messages per second accepted with fsync, 10 KB messages, 1, 10 and 50 concurrent
 * senders, plain sessions and STARTTLS sessions, through the edge to one Switchyard mail replica,
 * side by side in one run with a private Postfix instance (defaults, and defaults with
 * in_flow_delay = 0), both presenting the same certificate. The same load generator (loadgen.mjs)
 * for every target, timing every SMTP step from the client's side. Rounds interleaved, target
 * order rotated each round.
 *
 * Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10 per run), BENCH_CONC ("1,10,50"),
 * BENCH_TLS ("plain,starttls"),
 * BENCH_SIZE (10240), BENCH_PER_CONN (10 messages per connection), BENCH_TARGETS
 * ("switchyard,postfix,postfix-noflowdelay"), BENCH_PROFILE (1: the mail worker under --cpu-prof,
 * top frames printed), BENCH_OUT (JSON path; default bench/results/mail-<date>.json),
 * BENCH_BASELINE (another build's services/mail/dist/main.js: target "before", its own edge and
 * spool, interleaved with the others; add "before" to BENCH_TARGETS).
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
  concurrency: (env.BENCH_CONC ?? "1,10,50").split(",").map(Number),
  modes: (env.BENCH_TLS ?? "plain,starttls").split(","),
  size: Number(env.BENCH_SIZE ?? 10240),
  perConnection: Number(env.BENCH_PER_CONN ?? 10),
  targets: (env.BENCH_TARGETS ?? "switchyard,postfix,postfix-noflowdelay").split(","),
  profile: env.BENCH_PROFILE === "1",
  baseline: env.BENCH_BASELINE,
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

/**
 * One self-signed P-256 certificate for both servers (openssl), so STARTTLS costs the same
 * handshake on either side.
 */
async function makeCertificate(dir) {
  const certFile = join(dir, "bench-cert.pem");
  const keyFile = join(dir, "bench-key.pem");
  await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=mx.bench.test",
    "-addext",
    "subjectAltName=DNS:mx.bench.test,DNS:postfix.bench.test",
  ]);
  await chmod(keyFile, 0o644); // Postfix's smtpd reads it as root at start; the mail worker as us
  return { certFile, keyFile };
}

async function startSwitchyard(
  dir,
  logDir,
  tls,
  {
    name = "switchyard",
    label = "Switchyard (edge → 1 mail replica)",
    mailMain = join(repoRoot, "services/mail/dist/main.js"),
  } = {},
) {
  const base = name === "switchyard" ? dir : join(dir, name);
  await mkdir(base, { recursive: true });
  const ports = { smtp: await freePort(), submission: await freePort(), smtps: await freePort() };
  const edgeMetrics = await freePort();
  const mailMetrics = await freePort();
  const config = {
    edge: {
      addresses: ["127.0.0.1"],
      grpc: `127.0.0.1:${await freePort()}`,
      metrics: `127.0.0.1:${edgeMetrics}`,
      handoff: { socket: join(base, "handoff.sock") },
    },
    mail: {
      ports,
      grpc: `127.0.0.1:${await freePort()}`,
      metrics: `127.0.0.1:${mailMetrics}`,
      hostname: "mx.bench.test",
      domains: ["bench.test"],
      mailboxes: [{ address: "sink@bench.test" }],
      spool: join(base, "spool"),
      limits: { maxConnectionsPerIp: 0 },
      inbound: { verify: false },
      authLimits: { banSeconds: 0 },
      tls,
    },
  };
  const configPath = join(base, "switchyard.yaml");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const tokenFile = join(base, "admin.token");
  await writeFile(tokenFile, randomBytes(32).toString("hex"), { mode: 0o600 });
  const common = {
    SWITCHYARD_CONFIG: configPath,
    SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile,
    SWITCHYARD_LOG_LEVEL: "info",
  };
  const suffix = name === "switchyard" ? "" : `-${name}`;
  const edge = startService(`edge${suffix}`, [join(repoRoot, "services/edge/dist/main.js")], common, logDir);
  await waitReady(`http://127.0.0.1:${edgeMetrics}/healthz`, "the edge");
  const profArgs = settings.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(dir, "profile")}`] : [];
  const mail = startService(
    `mail${suffix}`,
    [...profArgs, mailMain],
    { ...common, SWITCHYARD_INSTANCE: "bench-mail" },
    logDir,
  );
  await waitReady(`http://127.0.0.1:${mailMetrics}/readyz`, "the mail worker");
  const maildir = join(base, "spool", "bench.test", "sink", "new");
  let runsMoved = 0;
  return {
    name,
    label,
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

async function startPostfixTarget(name, label, dir, logDir, extra, tls) {
  const port = await freePort();
  const postfix = await startPostfix({ dir: join(dir, name), port, logDir, extra, tls });
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

async function loadgen(port, concurrency, seconds, starttls) {
  const args = [
    join(here, "loadgen.mjs"),
    JSON.stringify({
      port,
      concurrency,
      seconds,
      size: settings.size,
      perConnection: settings.perConnection,
      starttls,
    }),
  ];
  const { stdout } = await exec(process.execPath, args, {
    timeout: (seconds + 30) * 1000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split("\n").pop());
}

async function measure(target, concurrency, seconds, mode) {
  const busy0 = machineBusySeconds().busy;
  const cpu0 = treeCpuSeconds(target.pids());
  const result = await loadgen(target.port, concurrency, seconds, mode === "starttls");
  const serverCpu = treeCpuSeconds(target.pids()) - cpu0;
  const busy = machineBusySeconds().busy - busy0;
  const delivered = await target.delivered();
  return {
    ...result,
    target: target.name,
    concurrency,
    mode,
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

const STEP_ORDER = [
  "connect",
  "greeting",
  "ehlo",
  "starttls",
  "tls",
  "ehlo2",
  "mail",
  "rcpt",
  "data",
  "body",
  "quit",
];
const MODE_LABEL = { plain: "plain sessions", starttls: "STARTTLS sessions" };

function concurrencyTable(runs, targets, mode, concurrency) {
  const lines = [];
  const of = (name) =>
    runs.filter((r) => r.target === name && r.concurrency === concurrency && r.mode === mode);
  const base = median(of("postfix").map((r) => r.perSecond));
  lines.push(
    "",
    `**${concurrency} concurrent sender${concurrency === 1 ? "" : "s"}, ${MODE_LABEL[mode] ?? mode}** (${settings.size} B messages, ${settings.perConnection} per connection; median of ${settings.rounds} × ${settings.seconds} s, min–max in brackets)`,
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
          (x) =>
            x.target === "postfix" && x.concurrency === concurrency && x.mode === mode && x.round === r.round,
        );
        return ref ? r.perSecond / ref.perSecond : null;
      })
      .filter((x) => x !== null);
    const errors = rs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
    lines.push(
      `| ${t.label} | ${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}) | ${base ? `${fmt(median(rates) / base, 2)}×` : "–"} | ${perRound.length ? `${fmt(median(perRound), 2)}× (${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)})` : "–"} | ${fmt(median(rs.map((r) => r.latencyMs.p50)), 1)} | ${fmt(median(p99s), 1)} (${fmt(Math.min(...p99s), 1)}–${fmt(Math.max(...p99s), 1)}) | ${fmt(Math.max(...rs.map((r) => r.latencyMs.max)), 0)} | ${fmt(median(rs.map((r) => r.serverCpuMsPerMessage)), 3)} | ${errors} |`,
    );
  }
  return lines;
}

/**
 * Where a sender's time goes: per step, the median over the rounds of the mean ms per occurrence
 * (connection steps once per connection, message steps once per message), and what the whole
 * connection costs per message.
 */
function stepTable(runs, targets, mode, concurrency) {
  const of = (name) =>
    runs.filter((r) => r.target === name && r.concurrency === concurrency && r.mode === mode && r.steps);
  const present = STEP_ORDER.filter((s) => runs.some((r) => r.mode === mode && r.steps?.[s]));
  const lines = [
    "",
    `Time per step, ${concurrency} sender${concurrency === 1 ? "" : "s"}, ${MODE_LABEL[mode] ?? mode} (client side, mean ms per step; median of the rounds)`,
    "",
    `| target | ${present.join(" | ")} | ms per message, all steps |`,
    `| --- |${present.map(() => " ---: |").join("")} ---: |`,
  ];
  for (const t of targets) {
    const rs = of(t.name);
    if (rs.length === 0) continue;
    const cell = (s) => fmt(median(rs.map((r) => r.steps[s]?.meanMs ?? null)), 2);
    const perMessage = median(
      rs.map((r) => Object.values(r.steps).reduce((n, x) => n + (x.perMessageMs ?? 0), 0)),
    );
    lines.push(`| ${t.label} | ${present.map(cell).join(" | ")} | ${fmt(perMessage, 2)} |`);
  }
  return lines;
}

function report(runs, targets) {
  const lines = [];
  for (const mode of settings.modes) {
    for (const concurrency of settings.concurrency) {
      lines.push(...concurrencyTable(runs, targets, mode, concurrency));
      lines.push(...stepTable(runs, targets, mode, concurrency));
    }
  }
  const lost = runs.filter((r) => r.delivered !== undefined && r.delivered !== r.messages);
  const other = median(runs.map((r) => r.otherCpuSeconds / r.elapsedSeconds));
  lines.push(
    "",
    `Other processes on the machine used ${fmt(other, 2)} CPUs (median over the runs; min ${fmt(Math.min(...runs.map((r) => r.otherCpuSeconds / r.elapsedSeconds)), 2)}, max ${fmt(Math.max(...runs.map((r) => r.otherCpuSeconds / r.elapsedSeconds)), 2)}) while this ran. ` +
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
  const tls = await makeCertificate(dir);
  for (const name of settings.targets) {
    if (name === "switchyard") targets.push(await startSwitchyard(dir, logDir, tls));
    else if (name === "before") {
      if (!settings.baseline)
        throw new Error("target before needs BENCH_BASELINE=<…/services/mail/dist/main.js>");
      targets.push(
        await startSwitchyard(dir, logDir, tls, {
          name,
          label: "Switchyard before (BENCH_BASELINE)",
          mailMain: settings.baseline,
        }),
      );
    } else if (name === "postfix")
      targets.push(await startPostfixTarget(name, "Postfix 3.7 (defaults)", dir, logDir, [], tls));
    else if (name === "postfix-noflowdelay")
      targets.push(
        await startPostfixTarget(
          name,
          "Postfix 3.7 (`in_flow_delay = 0`)",
          dir,
          logDir,
          ["in_flow_delay = 0s"],
          tls,
        ),
      );
    else throw new Error(`unknown target ${name}`);
  }
  for (const t of targets) {
    for (const mode of settings.modes) {
      log(`# warm-up: ${t.name} ${mode}`);
      await measure(t, 10, 3, mode);
    }
  }
  const runs = [];
  for (const mode of settings.modes) {
    for (const concurrency of settings.concurrency) {
      for (let round = 0; round < settings.rounds; round++) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const t of order) {
          const r = { round, ...(await measure(t, concurrency, settings.seconds, mode)) };
          runs.push(r);
          log(
            `# ${mode} c=${concurrency} round ${round + 1} ${t.name}: ${fmt(r.perSecond)} msg/s, p99 ${fmt(r.latencyMs.p99, 1)} ms, ` +
              `server ${fmt(r.serverCpuMsPerMessage, 3)} ms CPU/msg, errors ${JSON.stringify(r.errors)}` +
              (r.delivered !== undefined ? `, delivered ${r.delivered}/${r.messages}` : ""),
          );
        }
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
