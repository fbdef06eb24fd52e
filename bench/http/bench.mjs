/**
 * bench/http: Switchyard's http worker (edge + 1 worker, then 2) against nginx, HAProxy (mode http)
 * and Caddy, each terminating TLS with the same certificate and proxying to the same upstream (nginx
 * serving two static files, 1 KB and 100 KB, on its own port). Clients: wrk (HTTP/1.1 keep-alive),
 * h2load (HTTP/2), new TLS handshakes per second (wrk with `Connection: close`), p99 latency, and the
 * proxy's RSS growth per idle keep-alive TLS connection. Run through run.sh.
 *
 * BENCH_SECONDS (5) per row, BENCH_CONNECTIONS (50), BENCH_IDLE (10000) idle connections, BENCH_ROUNDS
 * (1; more: servers interleaved, medians), BENCH_SERVERS / BENCH_ROWS (filters; bare-tls, bare-http
 * and bare-proxy, node's own floor from bare-server.mjs, run only when named), BENCH_WARMUP (1: the
 * seconds of each unmeasured warm-up load per server: plain, TLS keep-alive, new TLS connections),
 * BENCH_BASELINE
 * (another build's services/http/dist/main.js, run as before×1), BENCH_PROFILE_DIR (CPU profiles),
 * BENCH_OUT (the JSON file; default bench/results/http-<date>.json), BENCH_KEEP=1 (keep the temp dir
 * with the servers' logs).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { freePort, machineBusySeconds, sample, sleep, start, waitForPort } from "../handoff/procs.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const testkit = await import(join(root, "packages/testkit/dist/index.js"));

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const CONNS = Number(env.BENCH_CONNECTIONS ?? 50);
const IDLE = Number(env.BENCH_IDLE ?? 10_000);
/** Comma-separated server names to run (default all), e.g. `switchyard×1,nginx`. */
const ONLY = env.BENCH_SERVERS ? env.BENCH_SERVERS.split(",") : undefined;
/** Comma-separated substrings: only the rows whose name contains one (default all). */
const ROWS = env.BENCH_ROWS ? env.BENCH_ROWS.split(",") : undefined;
/** Another build's services/http/dist/main.js: runs first as `before×1` (before/after in one run). */
const BASELINE = env.BENCH_BASELINE;
/** A directory: the http workers run with --cpu-prof and write their profiles there. */
const PROFILE = env.BENCH_PROFILE_DIR;
/** Rounds over all servers (default 1); with more, each cell is the median of its rounds. */
const ROUNDS = Number(env.BENCH_ROUNDS ?? 1);
/** Seconds of each unmeasured warm-up load per server: plain keep-alive, TLS keep-alive, new TLS connections (0: none). */
const WARMUP = Number(env.BENCH_WARMUP ?? 1);
const HOST = "localhost"; // resolves to 127.0.0.1 here, so wrk and h2load send it as SNI
const dir = mkdtempSync(join(tmpdir(), "switchyard-httpbench-"));
chmodSync(dir, 0o755); // nginx workers (www-data) read the upstream files
// The temp dir (certificate, configs, logs) goes at exit, however it comes, unless BENCH_KEEP=1.
process.once("exit", () => {
  if (env.BENCH_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  else say(`kept ${dir}`);
});
const say = (m) => process.stderr.write(`# ${m}\n`);

// --- certificate: a local CA and a leaf for bench.test ---
function makeCert() {
  const o = (...a) => execFileSync("openssl", a, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  o(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=bench CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  o(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=${HOST}`,
    "-keyout",
    "site.key",
    "-out",
    "site.csr",
  );
  writeFileSync(join(dir, "ext.cnf"), `subjectAltName=DNS:${HOST}\n`);
  o(
    "x509",
    "-req",
    "-in",
    "site.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
    "-out",
    "site.pem",
  );
  return { cert: join(dir, "site.pem"), key: join(dir, "site.key") };
}

// --- upstream: nginx serving /1k and /100k ---
async function startUpstream() {
  const www = join(dir, "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "1k"), "x".repeat(1024));
  writeFileSync(join(www, "100k"), "x".repeat(100 * 1024));
  const port = await freePort();
  const conf = join(dir, "upstream.conf");
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/upstream.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; default_type text/plain; sendfile on;
  server { listen 127.0.0.1:${port}; root ${www}; } }
`,
  );
  const proc = start("upstream", "nginx", ["-c", conf, "-p", dir], { logDir: dir });
  await waitForPort(port, 10_000);
  return { proc, port, worker: await nginxWorker(proc) };
}

/** The pid of an nginx master's (only) worker: the process that holds the connections. */
async function nginxWorker(proc) {
  await sleep(300);
  return Number(
    execFileSync("pgrep", ["-P", String(proc.pid)])
      .toString()
      .trim()
      .split("\n")[0],
  );
}

// --- the proxies ---
/**
 * nginx offers TLS 1.2 and 1.3 as every other server here does. Debian 12's nginx 1.22 offers only
 * up to TLS 1.2 unless told (1.23.4 added 1.3 to the default): `nginx-tls1.2` (opt-in) is that
 * default, as the runs before 2026-12-05 measured it. With TLS 1.2, a resumed handshake (wrk offers
 * its last session) does no key exchange at all; a resumed TLS 1.3 one still does X25519.
 */
async function startNginx(cert, up, name = "nginx", protocols = "TLSv1.2 TLSv1.3") {
  const [tls, plain] = [await freePort(), await freePort()];
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/${name}.pid; error_log stderr error;
events { worker_connections 30000; }
http { access_log off; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${up}; keepalive 64; }
  server { listen 127.0.0.1:${tls} ssl http2; listen 127.0.0.1:${plain};
    ssl_certificate ${cert.cert}; ssl_certificate_key ${cert.key}; server_name ${HOST};${protocols ? ` ssl_protocols ${protocols};` : ""}
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  const proc = start(name, "nginx", ["-c", conf, "-p", dir], { logDir: dir });
  await waitForPort(tls, 10_000);
  return { name, tls, plain, pids: [await nginxWorker(proc)], stop: () => proc.stop() };
}

async function startHaproxy(cert, up) {
  const [tls, plain] = [await freePort(), await freePort()];
  writeFileSync(join(dir, "haproxy.pem"), readFileSync(cert.cert, "utf8") + readFileSync(cert.key, "utf8"));
  const conf = join(dir, "haproxy.cfg");
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 9000 # haproxy asks for ~2x maxconn fds (the hard limit here is 20,000)
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  http-reuse always
frontend f
  bind 127.0.0.1:${tls} ssl crt ${dir}/haproxy.pem alpn h2,http/1.1
  bind 127.0.0.1:${plain}
  default_backend b
backend b
  server s 127.0.0.1:${up}
`,
  );
  const proc = start("haproxy", "haproxy", ["-db", "-f", conf], { logDir: dir });
  await waitForPort(tls, 10_000);
  return { name: "haproxy", tls, plain, pids: [proc.pid], stop: () => proc.stop() };
}

async function startCaddy(cert, up) {
  const [tls, plain] = [await freePort(), await freePort()];
  const conf = join(dir, "Caddyfile");
  writeFileSync(
    conf,
    `{
  admin off
  auto_https off
  log {
    level ERROR
  }
}
https://${HOST}:${tls} {
  bind 127.0.0.1
  tls ${cert.cert} ${cert.key}
  reverse_proxy 127.0.0.1:${up}
}
http://:${plain} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${up}
}
`,
  );
  const proc = start("caddy", "caddy", ["run", "--config", conf, "--adapter", "caddyfile"], {
    logDir: dir,
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, GOMAXPROCS: "1" },
  });
  await waitForPort(tls, 15_000);
  return { name: "caddy", tls, plain, pids: [proc.pid], stop: () => proc.stop() };
}

/**
 * One http worker process, as testkit's startHttpReplica starts it, except that its stdout (the
 * access log, one JSON line per request) goes to a file, as it would go to journald or a log
 * collector: a pipe read and parsed line by line by this process would take CPU from the 2 cores
 * the proxies are measured on.
 */
/** The text of `file` from byte `from` on. */
function readFrom(file, from) {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.max(0, fstatSync(fd).size - from));
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

async function startReplica(edge, name, main) {
  const log = join(dir, `${name}.log`);
  // The file is appended to across rounds: only what this process wrote (from `from` on) is read,
  // or round 2 would find round 1's "attached" line and measure before the new worker attached.
  const from = existsSync(log) ? statSync(log).size : 0;
  const fd = openSync(log, "a");
  const profile = PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...profile, main], {
    env: {
      ...process.env,
      SWITCHYARD_CONFIG: edge.configPath,
      SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
      SWITCHYARD_EDGE: edge.grpc,
      SWITCHYARD_INSTANCE: name,
      SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_LOG_LEVEL: "info",
    },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise((res) => child.once("exit", res));
  process.once("exit", () => child.kill("SIGKILL"));
  const startedAt = Date.now();
  const attached = (l) => l.includes('"msg":"attached to the edge"') && l.includes(`"pid":${child.pid},`);
  while (!readFrom(log, from).split("\n").some(attached)) {
    if (child.exitCode !== null || Date.now() > startedAt + 30_000) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not attach: ${readFrom(log, from).slice(-2000)}`);
    }
    await sleep(100);
  }
  say(`${name}: pid ${child.pid} attached after ${Date.now() - startedAt} ms`);
  return {
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      const began = Date.now();
      child.kill("SIGTERM");
      // The worker drains for up to 10 s (drainTimeoutMs) after leaving the pool (deregister: up
      // to 2 s): killed only well after that, and a slow stop is reported with the worker's own
      // count of what it held and what was left (its log).
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, 20_000);
      await exited;
      clearTimeout(timer);
      if (killed || Date.now() - began > 3000) {
        const drained = readFrom(log, from)
          .split("\n")
          .filter((l) => l.includes("draining http connections") || l.includes("http connections drained"));
        say(`${name}: stop took ${Date.now() - began} ms${killed ? " (killed)" : ""}; ${drained.join(" ")}`);
      }
    },
  };
}

async function startSwitchyard(
  cert,
  up,
  workers,
  label = "switchyard",
  main = join(root, "services/http/dist/main.js"),
) {
  const [tls, plain] = [await freePort(), await freePort()];
  const edge = await testkit.startEdge(
    {
      http: {
        ports: { https: tls, http: plain },
        sites: [
          {
            domains: [HOST],
            upstreams: [`127.0.0.1:${up}`],
            tls: { certFile: cert.cert, keyFile: cert.key },
            redirectHttp: false,
          },
        ],
      },
    },
    // The edge is profiled too: it accepts every connection and hands it over (a handshake row is
    // one connection per request).
    PROFILE
      ? {
          env: {
            NODE_OPTIONS: `--import=${join(here, "cpu-prof-preload.mjs")}`,
            CPU_PROF_FILE: join(PROFILE, `${label}-${workers}-edge.cpuprofile`),
          },
        }
      : {},
  );
  const replicas = [];
  try {
    for (let i = 0; i < workers; i++)
      replicas.push(await startReplica(edge, `${label}-${workers}-${i}`, main));
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop()));
    await edge.stop();
    throw err;
  }
  return {
    name: `${label}×${workers}`,
    tls,
    plain,
    pids: replicas.map((r) => r.pid),
    // CPU per request counts the edge too (it accepts and hands over every connection).
    cpuPids: [...replicas.map((r) => r.pid), edge.pid],
    // … and each row's CPU is also split: what the edge spends, what the workers spend.
    cpuParts: { edge: [edge.pid], workers: replicas.map((r) => r.pid) },
    stop: async () => {
      await Promise.all(replicas.map((r) => r.stop()));
      await edge.stop();
    },
  };
}

/**
 * node's own floor (bare-server.mjs): bare-tls, bare-http or bare-proxy, with the same certificate
 * and upstream. They speak HTTP/1.1 only: the h2load rows are skipped for them.
 */
async function startBare(mode, cert, up) {
  const [tls, plain] = [await freePort(), await freePort()];
  const profile = PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${mode}.cpuprofile`]
    : [];
  const proc = start(
    mode,
    process.execPath,
    [
      ...profile,
      join(here, "bare-server.mjs"),
      mode,
      "--cert",
      cert.cert,
      "--key",
      cert.key,
      "--tls",
      String(tls),
      "--plain",
      String(plain),
      "--upstream",
      `127.0.0.1:${up}`,
    ],
    { logDir: dir },
  );
  await proc.waitFor((l) => l.json?.msg === "listening", 15_000, "listening line");
  return {
    name: mode,
    tls,
    plain,
    pids: [proc.pid],
    skipRows: ["h2load"],
    stop: async () => {
      await proc.stop();
      const counts = proc.lines.find((l) => l.json?.msg === "stopping")?.json;
      if (counts) say(`${mode}: ${counts.connections} TLS connections, ${counts.resumed} resumed a session`);
    },
  };
}

/** What a TLS client agrees with the server (openssl s_client): protocol, cipher, key exchange group. */
function tlsSummary(port) {
  const r = spawnSync(
    "openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", HOST, "-alpn", "http/1.1", "-brief"],
    { input: "", timeout: 5000, encoding: "utf8" },
  );
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  const get = (re) => re.exec(out)?.[1]?.trim() ?? "?";
  return `${get(/Protocol version:\s*(.+)/)} ${get(/Ciphersuite:\s*(.+)/)} ${get(/(?:Peer|Server) Temp Key:\s*([^,\n]+)/)}`;
}

// --- clients ---
function wrk(url, extra = [], seconds = SECONDS) {
  return new Promise((res) => {
    const args = ["-t", "2", "-c", String(CONNS), "-d", `${seconds}s`, "--latency", ...extra, url];
    const p = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => p.kill("SIGKILL"), (seconds + 30) * 1000);
    let out = "";
    p.stdout.on("data", (c) => {
      out += c;
    });
    p.stderr.on("data", (c) => {
      out += c;
    });
    p.on("exit", () => {
      clearTimeout(timer);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
      // Responses read (with `Connection: close`, one per TLS connection made).
      const requests = Number(/(\d+) requests in /.exec(out)?.[1] ?? Number.NaN);
      const p99 = parseLat(/99%\s+([\d.]+)(us|ms|s)/.exec(out));
      const errors =
        /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? /Socket errors: (.*)/.exec(out)?.[1] ?? "";
      res({ rps, requests, p99ms: p99, errors, raw: out });
    });
  });
}
const parseLat = (m) => (m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : Number.NaN);

function h2load(url) {
  return new Promise((res) => {
    const args = ["-D", String(SECONDS), "-c", String(CONNS), "-m", "10", "-t", "2", "--warm-up-time=1", url];
    const p = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => p.kill("SIGKILL"), (SECONDS + 30) * 1000);
    let out = "";
    p.stdout.on("data", (c) => {
      out += c;
    });
    p.stderr.on("data", (c) => {
      out += c;
    });
    p.on("exit", () => {
      clearTimeout(timer);
      const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN);
      const failed = /(\d+) failed/.exec(out)?.[1] ?? "";
      // h2load gives mean/sd/max, not p99: record max and mean of request time
      const m = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
      res({
        rps,
        meanMs: m ? parseLat([0, m[3], m[4]]) : Number.NaN,
        errors: failed === "0" ? "" : failed,
        raw: out,
      });
    });
  });
}

// Idle keep-alive TLS connections: each does one request, then stays open. RSS delta of the proxy.
async function idleMemory(server) {
  const rss = () => server.pids.reduce((s, pid) => s + sample(pid).rssKiB, 0);
  const before = rss();
  const sockets = [];
  let ok = 0;
  const open = () =>
    new Promise((res) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: server.tls,
        servername: HOST,
        rejectUnauthorized: false,
        ALPNProtocols: ["http/1.1"],
      });
      sockets.push(s);
      s.on("error", () => res());
      s.once("secureConnect", () => s.write(`GET /1k HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`));
      let got = 0;
      s.on("data", (c) => {
        got += c.length;
        if (got >= 1024 && got - c.length < 1024) {
          ok++;
          res();
        } // count each connection once
      });
    });
  for (let i = 0; i < IDLE; i += 200)
    await Promise.all(Array.from({ length: Math.min(200, IDLE - i) }, open));
  await sleep(1500);
  const after = rss();
  for (const s of sockets) s.destroy();
  return {
    open: ok,
    beforeKiB: before,
    afterKiB: after,
    perConnKB: ((after - before) * 1.024) / Math.max(ok, 1),
  };
}

// --- main ---
const cert = makeCert();
const upstream = await startUpstream();
say(`upstream: nginx static files on 127.0.0.1:${upstream.port}; ${SECONDS}s per row, ${CONNS} connections`);
const allRows = [
  ["wrk h1 TLS 1K", (s) => wrk(`https://${HOST}:${s.tls}/1k`, ["-H", `Host: ${HOST}`])],
  ["wrk h1 TLS 100K", (s) => wrk(`https://${HOST}:${s.tls}/100k`, ["-H", `Host: ${HOST}`])],
  ["wrk h1 plain 1K", (s) => wrk(`http://${HOST}:${s.plain}/1k`, ["-H", `Host: ${HOST}`])],
  ["wrk h1 plain 100K", (s) => wrk(`http://${HOST}:${s.plain}/100k`, ["-H", `Host: ${HOST}`])],
  ["h2load h2 TLS 1K", (s) => h2load(`https://${HOST}:${s.tls}/1k`)],
  ["h2load h2 TLS 100K", (s) => h2load(`https://${HOST}:${s.tls}/100k`)],
  [
    "TLS handshakes/s",
    (s) => wrk(`https://${HOST}:${s.tls}/1k`, ["-H", `Host: ${HOST}`, "-H", "Connection: close"]),
  ],
];
const rows = allRows.filter(([row]) => !ROWS || ROWS.some((r) => row.includes(r)));
const allServers = [
  ...(BASELINE ? [["before×1", () => startSwitchyard(cert, upstream.port, 1, "before", BASELINE)]] : []),
  ["switchyard×1", () => startSwitchyard(cert, upstream.port, 1)],
  ["switchyard×2", () => startSwitchyard(cert, upstream.port, 2)],
  ["nginx", () => startNginx(cert, upstream.port)],
  ["nginx-tls1.2", () => startNginx(cert, upstream.port, "nginx-tls1.2", "")],
  ["haproxy", () => startHaproxy(cert, upstream.port)],
  ["caddy", () => startCaddy(cert, upstream.port)],
  // node's floor (bare-server.mjs) and nginx-tls1.2: only when named in BENCH_SERVERS.
  ...["bare-tls", "bare-http", "bare-proxy"].map((mode) => [
    mode,
    () => startBare(mode, cert, upstream.port),
  ]),
];
const EXTRA = new Set(["bare-tls", "bare-http", "bare-proxy", "nginx-tls1.2"]);
const results = {};
/** Every round's result per server and row (BENCH_ROUNDS > 1: the table shows the medians). */
const rounds = {};
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const servers = allServers.filter(([name]) => (ONLY ? ONLY.includes(name) : !EXTRA.has(name)));
const load1 = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
/**
 * The machine's speed just before a row: X25519 derivations per second on all its cores at once for
 * 1 s (openssl speed -multi), with nothing of the benchmark running. This is a VM: a server's CPU
 * time per connection moved by up to 2x within minutes with no other process running in it and no
 * steal time reported (the host's other guests), so a row's CPU per request compares only with rows
 * run at a like speed. BENCH_CALIBRATE=0 skips it.
 */
const calibrate = () => {
  if (env.BENCH_CALIBRATE === "0") return Number.NaN;
  const multi = String(availableParallelism());
  const r = spawnSync("openssl", ["speed", "-multi", multi, "-seconds", "1", "ecdhx25519"], {
    timeout: 10_000,
    encoding: "utf8",
  });
  return Number(/X25519\)\s+[\d.]+s\s+([\d.]+)/.exec(r.stdout ?? "")?.[1] ?? Number.NaN);
};
/** CPU seconds of this process, its exited children (wrk, h2load) and the upstream's worker. */
const oursSeconds = () => {
  const me = sample(process.pid);
  return me.cpuSeconds + me.childrenSeconds + sample(upstream.worker).cpuSeconds;
};
const others = [];
const loads = [load1()];
say(`load average (1 min) at the start: ${loads[0]}`);
// Rounds interleave the servers (A B C, A B C, …) so that the machine's load drifts over all alike.
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, startServer] of servers) {
    say(`${name}: starting${ROUNDS > 1 ? ` (round ${round}/${ROUNDS})` : ""}`);
    let server;
    try {
      server = await startServer();
    } catch (err) {
      say(`${name}: failed to start: ${err.message.slice(0, 500)}`);
      continue;
    }
    results[name] ??= {};
    rounds[name] ??= {};
    try {
      results[name].tls = tlsSummary(server.tls);
      say(`${name}: TLS ${results[name].tls}`);
      await measure(name, server, round);
    } finally {
      await server.stop();
    }
  }
}
await upstream.proc.stop();
loads.push(load1());

async function measure(name, server, round) {
  // Warm-up, not measured (as h2load's --warm-up-time): a JIT compiles the hot paths in its first
  // seconds, which would otherwise be charged to whichever row comes first — the handshake row's
  // path too (a new TLS connection per request), not only keep-alive's.
  if (WARMUP > 0) {
    await wrk(`http://${HOST}:${server.plain}/1k`, ["-H", `Host: ${HOST}`], WARMUP);
    await wrk(`https://${HOST}:${server.tls}/1k`, ["-H", `Host: ${HOST}`], WARMUP);
    await wrk(`https://${HOST}:${server.tls}/1k`, ["-H", `Host: ${HOST}`, "-H", "Connection: close"], WARMUP);
  }
  // CPU is read per part (Switchyard: edge, workers) and summed.
  const parts = server.cpuParts ?? { server: server.cpuPids ?? server.pids };
  const cpu = () => {
    const all = Object.entries(parts).map(([part, pids]) => [part, pids.map((pid) => sample(pid))]);
    const sum = (xs, k) => xs.reduce((t, x) => t + x[k], 0);
    return {
      ...Object.fromEntries(all.map(([part, xs]) => [part, sum(xs, "cpuSeconds")])),
      // the kernel's share (stime) of all parts
      sys: all.reduce((t, [, xs]) => t + sum(xs, "systemSeconds"), 0),
    };
  };
  for (const [row, runRow] of rows) {
    if (server.skipRows?.some((skip) => row.startsWith(skip))) continue;
    const speed = calibrate();
    const cpuBefore = cpu();
    const oursBefore = oursSeconds();
    const busyBefore = machineBusySeconds();
    const began = Date.now();
    const r = await runRow(server);
    const cpuAfter = cpu();
    const oursAfter = oursSeconds();
    const busyAfter = machineBusySeconds();
    // The proxy's own CPU per request (its processes' utime+stime over the row): unlike req/s,
    // hardly moved by what else runs on the machine. wrk: over the responses it read (the
    // handshake row: one per TLS connection, so per connection); h2load: its 1 s warm-up counted
    // at the measured rate.
    const served = row.startsWith("h2load") ? r.rps * (SECONDS + 1) : (r.requests ?? r.rps * SECONDS);
    const per = (part) => (served > 0 ? ((cpuAfter[part] - cpuBefore[part]) * 1e6) / served : Number.NaN);
    r.cpuUsPerReq = Object.keys(parts).reduce((t, part) => t + per(part), 0);
    r.cpuSysUsPerReq = per("sys");
    if (server.cpuParts) r.cpuSplit = Object.fromEntries(Object.keys(parts).map((part) => [part, per(part)]));
    // What the whole machine did meanwhile (2 cores: the load generator, the upstream, the proxy,
    // and whatever else runs), what of it was not this benchmark's (not the proxy, the upstream,
    // the load generator or this process: other people's work on the machine), and the load
    // average at the end of the row (which counts this benchmark's own runnable threads too).
    const wall = (Date.now() - began) / 1000;
    r.machineBusyCores = (busyAfter.busy - busyBefore.busy) / wall;
    const proxySeconds = Object.keys(parts).reduce((t, part) => t + cpuAfter[part] - cpuBefore[part], 0);
    r.otherCores = Math.max(0, r.machineBusyCores - (proxySeconds + oursAfter - oursBefore) / wall);
    others.push(r.otherCores);
    r.load1 = load1();
    r.x25519PerSec = speed;
    loads.push(r.load1);
    delete r.raw;
    rounds[name][row] ??= [];
    const all = rounds[name][row];
    all.push(r);
    const medianSplit = r.cpuSplit
      ? Object.fromEntries(
          Object.keys(r.cpuSplit).map((part) => [part, median(all.map((x) => x.cpuSplit[part]))]),
        )
      : undefined;
    results[name][row] = {
      ...r,
      rps: median(all.map((x) => x.rps)),
      ...(r.p99ms !== undefined ? { p99ms: median(all.map((x) => x.p99ms)) } : {}),
      cpuUsPerReq: median(all.map((x) => x.cpuUsPerReq)),
      cpuSysUsPerReq: median(all.map((x) => x.cpuSysUsPerReq)),
      x25519PerSec: median(all.map((x) => x.x25519PerSec)),
      ...(medianSplit ? { cpuSplit: medianSplit } : {}),
      ...(all.length > 1
        ? {
            rounds: all.map((x) => ({
              rps: x.rps,
              p99ms: x.p99ms,
              cpuUsPerReq: x.cpuUsPerReq,
              cpuSysUsPerReq: x.cpuSysUsPerReq,
              cpuSplit: x.cpuSplit,
              load1: x.load1,
              otherCores: x.otherCores,
              x25519PerSec: x.x25519PerSec,
            })),
          }
        : {}),
    };
    const split = r.cpuSplit
      ? ` (${Object.entries(r.cpuSplit)
          .map(([part, us]) => `${part} ${Math.round(us)}`)
          .join(", ")})`
      : "";
    say(
      `${name} ${row}: ${r.rps} req/s p99 ${r.p99ms ?? "-"} ms, ${Math.round(r.cpuUsPerReq)} µs CPU/req${split}, kernel ${Math.round(r.cpuSysUsPerReq)}; machine ${r.machineBusyCores.toFixed(2)} cores busy (others ${r.otherCores.toFixed(2)}), load ${r.load1}, X25519 ${Math.round(speed)}/s before${r.errors ? `; errors ${r.errors}` : ""}`,
    );
  }
  if (round === 1 && !name.endsWith("×2") && IDLE > 0) {
    results[name].idle = await idleMemory(server);
    say(`${name} idle: ${JSON.stringify(results[name].idle)}`);
  }
}

// --- table ---
const names = Object.keys(results);
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : "–");
const lines = [];
const before = names.includes("before×1");
lines.push(
  `| row | ${names.join(" | ")} | sy×1/nginx | sy×1/caddy | sy×2/nginx |${before ? " before×1/nginx |" : ""}`,
);
lines.push(`|---|${names.map(() => "---:").join("|")}|---:|---:|---:|${before ? "---:|" : ""}`);
const sy = (n, row) => results[n]?.[row]?.rps;
for (const [row] of rows) {
  lines.push(
    `| ${row} req/s | ${names.map((n) => fmt(results[n][row]?.rps)).join(" | ")} | ${ratio(sy("switchyard×1", row), sy("nginx", row))} | ${ratio(sy("switchyard×1", row), sy("caddy", row))} | ${ratio(sy("switchyard×2", row), sy("nginx", row))} |${before ? ` ${ratio(sy("before×1", row), sy("nginx", row))} |` : ""}`,
  );
}
for (const [row] of rows.filter(([r]) => r.startsWith("wrk") || r.startsWith("TLS"))) {
  const p = (n) => results[n]?.[row]?.p99ms;
  lines.push(
    `| ${row} p99 ms | ${names.map((n) => (Number.isFinite(p(n)) ? p(n).toFixed(2) : "–")).join(" | ")} | ${ratio(p("switchyard×1"), p("nginx"))} | ${ratio(p("switchyard×1"), p("caddy"))} | ${ratio(p("switchyard×2"), p("nginx"))} |${before ? ` ${ratio(p("before×1"), p("nginx"))} |` : ""}`,
  );
}
// Switchyard's CPU cells: the total, then the edge's part (the rest is the workers').
const cpuCell = (n, row) => {
  const r = results[n]?.[row];
  if (!Number.isFinite(r?.cpuUsPerReq)) return "–";
  const edge = r.cpuSplit?.edge;
  return `${Math.round(r.cpuUsPerReq)}${Number.isFinite(edge) ? ` (edge ${Math.round(edge)})` : ""}`;
};
for (const [row] of rows) {
  const c = (n) => results[n]?.[row]?.cpuUsPerReq;
  lines.push(
    `| ${row} CPU µs/req | ${names.map((n) => cpuCell(n, row)).join(" | ")} | ${ratio(c("switchyard×1"), c("nginx"))} | ${ratio(c("switchyard×1"), c("caddy"))} | ${ratio(c("switchyard×2"), c("nginx"))} |${before ? ` ${ratio(c("before×1"), c("nginx"))} |` : ""}`,
  );
}
const idle = (n) => results[n]?.idle?.perConnKB;
lines.push(
  `| KB per idle TLS conn (${IDLE}) | ${names.map((n) => (Number.isFinite(idle(n)) ? idle(n).toFixed(1) : "–")).join(" | ")} | ${ratio(idle("switchyard×1"), idle("nginx"))} | ${ratio(idle("switchyard×1"), idle("caddy"))} | – |${before ? ` ${ratio(idle("before×1"), idle("nginx"))} |` : ""}`,
);
// The cost ladder of the handshake row: every server against nginx, rate and CPU per connection.
const HS = "TLS handshakes/s";
if (rows.some(([row]) => row === HS)) {
  const hs = (n) => results[n]?.[HS];
  lines.push(
    "",
    `| ${HS} (one request per TLS connection) | conn/s | ×nginx | CPU µs/conn | of it kernel | edge µs | workers µs | CPU ×nginx | X25519/s before | TLS |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const n of names.filter((n) => hs(n))) {
    const r = hs(n);
    const part = (p) => (Number.isFinite(r.cpuSplit?.[p]) ? Math.round(r.cpuSplit[p]) : "–");
    lines.push(
      `| ${n} | ${fmt(r.rps)} | ${ratio(r.rps, hs("nginx")?.rps)} | ${fmt(r.cpuUsPerReq)} | ${fmt(r.cpuSysUsPerReq)} | ${part("edge")} | ${part("workers")} | ${ratio(r.cpuUsPerReq, hs("nginx")?.cpuUsPerReq)} | ${fmt(r.x25519PerSec)} | ${results[n].tls ?? ""} |`,
    );
  }
}
const finite = loads.filter(Number.isFinite);
lines.push(
  "",
  `load average (1 min) over the run: ${Math.min(...finite)}–${Math.max(...finite)} (it counts this benchmark's own threads)` +
    (others.length > 0
      ? `; cores busy with other work during the rows: median ${median(others).toFixed(2)}, max ${Math.max(...others).toFixed(2)}`
      : ""),
);
console.log(lines.join("\n"));
const date = new Date().toISOString().slice(0, 10);
mkdirSync(join(root, "bench/results"), { recursive: true });
const file = env.BENCH_OUT ?? join(root, `bench/results/http-${date}.json`);
writeFileSync(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      seconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNS,
      idle: IDLE,
      warmup: WARMUP,
      upstream: "nginx static files",
      load1: loads,
      otherCores: others,
      results,
    },
    null,
    2,
  ),
);
say(`wrote ${file}`);
process.exit(0);
