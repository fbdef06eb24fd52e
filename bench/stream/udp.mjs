/**
 * bench/stream udp: UDP forward packets/s and round-trip p99 — direct to a UDP echo, through
 * Switchyard (edge + one stream worker, a `forward` route with `protocol: udp`) on both UDP paths
 * (`switchyard`: `stream.udp: batch`, the default; `switchyard-dgram`: `stream.udp: dgram`), and
 * through nginx's stream module (`proxy_pass` over udp) — the same echo backend and load generator,
 * rounds interleaved. Run with `bash bench/stream/udp.sh`. Settings (environment): BENCH_ROUNDS (3),
 * BENCH_SECONDS (5), BENCH_SOCKETS (8 client sockets = sessions), BENCH_WINDOW (16 outstanding each).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, machineBusySeconds, run, sample, start } from "../handoff/procs.mjs";

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const SOCKETS = Number(env.BENCH_SOCKETS ?? 8);
const WINDOW = Number(env.BENCH_WINDOW ?? 16);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const testkit = await import(join(root, "packages/testkit/dist/index.js"));
const dir = mkdtempSync(join(tmpdir(), "switchyard-udpbench-"));
const say = (m) => process.stderr.write(`# ${m}\n`);

const echo = start("echo", process.execPath, [join(here, "udp-echo.mjs"), "0"], { logDir: dir });
const backendPort = (await echo.waitFor((l) => l.json?.port, 5000, "the echo's port")).json.port;

async function startNginx() {
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:${port} udp reuseport; proxy_pass 127.0.0.1:${backendPort};
  proxy_timeout 60s; } }
`,
  );
  const proc = start("nginx", "nginx", ["-c", conf, "-p", dir], { logDir: dir });
  await new Promise((r) => setTimeout(r, 500));
  if (proc.child.exitCode !== null) throw new Error(`nginx exited: ${proc.stderr()}`);
  // The master only forks: the worker process is what moves the datagrams.
  const worker = Number(
    readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(" ")[0],
  );
  return { port, pids: [worker], stop: () => proc.stop() };
}

async function startSwitchyard(udp) {
  const port = await freePort();
  const edge = await testkit.startEdge({
    stream: { udp },
    routes: [
      {
        name: "udp-echo",
        match: { ports: [port], protocol: "udp" },
        action: { type: "forward", host: "127.0.0.1", port: backendPort },
      },
    ],
  });
  const worker = await testkit.startStreamReplica(edge, { name: `stream-${udp}` });
  return {
    port,
    pids: [edge.process.pid, worker.process.pid],
    stop: async () => {
      await worker.stop();
      await edge.stop();
    },
  };
}

const targets = {
  direct: { port: backendPort, pids: [], stop: async () => {} },
  switchyard: await startSwitchyard("batch"),
  "switchyard-dgram": await startSwitchyard("dgram"),
  nginx: await startNginx(),
};
const results = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
say(`load average at the start: ${load()}`);
say(
  `udp echo on ${backendPort}; ${ROUNDS} rounds × ${SECONDS} s; ${SOCKETS} sockets × ${WINDOW} outstanding`,
);
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.keys(targets);
    for (let i = 0; i < round; i++) order.push(order.shift());
    for (const name of order) {
      const t = targets[name];
      const pids = [echo.pid, ...t.pids];
      const before = pids.map((p) => sample(p).cpuSeconds);
      const busy = machineBusySeconds();
      const [out] = await run(
        "load",
        process.execPath,
        [join(here, "udp-load.mjs"), String(t.port), String(SECONDS), String(SOCKETS), String(WINDOW)],
        { timeoutMs: (SECONDS + 10) * 1000 },
      );
      const cpu = pids.map((p, i) => sample(p).cpuSeconds - before[i]);
      const proxyCpu = cpu.slice(1).reduce((a, b) => a + b, 0);
      results[name].push({
        ...out,
        proxyUsPerPacket: (proxyCpu / (out.pps * SECONDS)) * 1e6,
        machineBusy: machineBusySeconds() - busy,
      });
      say(
        `round ${round + 1} ${name}: ${Math.round(out.pps)} pps, p99 ${out.p99.toFixed(2)} ms, lost ${out.lost}`,
      );
    }
  }
} finally {
  for (const t of Object.values(targets)) await t.stop();
  await echo.stop();
  rmSync(dir, { recursive: true, force: true });
}

say(`load average at the end: ${load()}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = (name, key) => median(results[name].map((r) => r[key]));
const lines = [
  "| path | pps (median) | × direct | × nginx | p99 ms | proxy CPU µs/packet | lost |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const name of Object.keys(targets)) {
  lines.push(
    `| ${name} | ${Math.round(m(name, "pps"))} | ${(m(name, "pps") / m("direct", "pps")).toFixed(2)}× | ${(m(name, "pps") / m("nginx", "pps")).toFixed(2)}× | ${m(name, "p99").toFixed(2)} | ${name === "direct" ? "—" : m(name, "proxyUsPerPacket").toFixed(1)} | ${results[name].reduce((a, r) => a + r.lost, 0)} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(0);
