#!/usr/bin/env node
// The local stack's supervisor (`npm start`, called by scripts/start.sh):
//   node scripts/supervise.mjs <name> <command> [args...] ";" <name> <command> [args...] ";" ...
// Starts the processes in the order given and restarts one that exits, with backoff (1 s doubling
// to 30 s; back to 1 s once it has run 60 s), saying so. SIGINT/SIGTERM stop them in reverse order,
// each with one SIGTERM (its own drain), so workers leave the edge before the edge and NATS go;
// a process still running after SWITCHYARD_STOP_TIMEOUT_MS (default 15 s) is killed. A second
// signal more than a second after the first kills everything at once (npm forwards the terminal's
// Ctrl-C, so one Ctrl-C can arrive twice).
// A process may hand over to a successor it started (the edge's upgrade: `yardctl edge upgrade`, SIGUSR2):
// each child gets SWITCHYARD_PID_FILE (<SWITCHYARD_RUN_DIR>/<name>.pid); when a child exits and that
// file names another live process, the supervisor follows that pid instead of restarting (it is not
// our child: watched by polling, signalled by pid, restarted as usual once it dies).
// The fd store (as systemd's FileDescriptorStoreMax=): each child gets SWITCHYARD_FDSTORE, a Unix socket
// where it may leave its listening sockets (the edge does, once it serves). The supervisor keeps them
// and passes them to the next start of that process (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID, from fd 3):
// after a crash the ports never stop listening, connections wait in the backlog instead of being
// refused. SWITCHYARD_SUPERVISOR_FDSTORE=0 turns it off.
// The children run in their own process group (the terminal's Ctrl-C reaches only this process, so
// each child gets exactly one stop signal) and get SIGTERM if this process dies (setpriv --pdeathsig).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeFd, HandoffListener } from "../packages/handoff/dist/index.js";

const say = (text) => process.stderr.write(`\x1b[1m[switchyard]\x1b[0m ${text}\n`);
const stopTimeoutMs = Number(process.env.SWITCHYARD_STOP_TIMEOUT_MS ?? 15_000);
const backoffMinMs = 1000;
const backoffMaxMs = 30_000;
const stableMs = 60_000;
const runDir = process.env.SWITCHYARD_RUN_DIR ?? tmpdir();
const followPollMs = 200;
const fdStoreOn = process.env.SWITCHYARD_SUPERVISOR_FDSTORE !== "0";

/** True while `pid` runs (a zombie counts as gone). */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/** The pid a process wrote to its pid file, if another live one. */
function successorOf(pidFile, pid) {
  let named;
  try {
    named = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(named) && named > 0 && named !== pid && alive(named) ? named : undefined;
}

/** "a" "cmd" "x" ";" "b" "cmd" → [{ name: "a", argv: ["cmd", "x"] }, { name: "b", argv: ["cmd"] }] */
function parseSpecs(args) {
  const specs = [];
  let current = [];
  for (const arg of [...args, ";"]) {
    if (arg !== ";") {
      current.push(arg);
      continue;
    }
    if (current.length === 0) continue;
    if (current.length < 2) throw new Error(`"${current[0]}" has no command`);
    const [name, ...argv] = current;
    specs.push({ name, argv });
    current = [];
  }
  return specs;
}

const pdeathsig = spawnSync("setpriv", ["--pdeathsig", "TERM", "true"]).status === 0;

class Supervised {
  constructor(spec) {
    this.name = spec.name;
    this.argv = spec.argv;
    this.child = undefined;
    /** The pid of a successor the child handed over to (not our child). */
    this.followed = undefined;
    this.pidFile = join(runDir, `${spec.name}.pid`);
    /** The fd store: sockets the process left here, passed to its next start. */
    this.stored = [];
    this.storePath = join(runDir, `${spec.name}.fdstore`);
    if (fdStoreOn) this.openStore();
    this.exited = Promise.resolve();
    this.restarts = 0;
    this.backoffMs = backoffMinMs;
    this.timer = undefined;
  }

  openStore() {
    rmSync(this.storePath, { force: true });
    this.store = HandoffListener.listen(this.storePath, { mode: 0o600 });
    this.store.unref();
    this.store.on("error", (err) => say(`${this.name}: fd store: ${err.message}`));
    this.store.on("channel", (channel) => {
      if (channel.peer.uid !== process.getuid()) return channel.close();
      const got = [];
      channel.on("message", (data, fds) => {
        let message;
        try {
          message = JSON.parse(data.toString());
        } catch {
          message = {};
        }
        const names = Array.isArray(message.names) ? message.names : [];
        for (const [i, fd] of fds.entries()) got.push({ fd, name: String(names[i] ?? "") });
        if (message.done) {
          for (const old of this.stored) closeFd(old.fd);
          this.stored = got.splice(0);
          channel.close();
        }
      });
      channel.once("close", () => {
        for (const s of got) closeFd(s.fd);
      });
    });
  }

  start() {
    const store = this.stored;
    const activation =
      store.length > 0
        ? ["sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh", ...this.argv]
        : this.argv;
    const [command, ...args] = pdeathsig
      ? ["setpriv", "--pdeathsig", "TERM", "--", ...activation]
      : activation;
    const startedAt = Date.now();
    rmSync(this.pidFile, { force: true });
    const env = { ...process.env, SWITCHYARD_PID_FILE: this.pidFile };
    if (fdStoreOn) env.SWITCHYARD_FDSTORE = this.storePath;
    if (store.length > 0) {
      env.LISTEN_FDS = String(store.length);
      env.LISTEN_FDNAMES = store.map((s) => s.name).join(":");
      say(`${this.name}: passing ${store.length} listening sockets from the fd store`);
    }
    const child = spawn(command, args, {
      stdio: ["inherit", "inherit", "inherit", ...store.map((s) => s.fd)],
      detached: true,
      env,
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        say(`${this.name}: cannot start ${this.argv[0]}: ${err.message}`);
      });
      child.once("exit", (code, signal) => {
        this.child = undefined;
        const successor = successorOf(this.pidFile, child.pid);
        if (successor !== undefined) {
          say(`${this.name} handed over from pid ${child.pid} to pid ${successor}; following it`);
          this.follow(successor, startedAt, resolve);
          return;
        }
        this.ended(code, signal, startedAt, resolve);
      });
    });
  }

  /** Watches a successor (not our child) until it dies or hands over in turn. */
  follow(pid, startedAt, resolve) {
    this.followed = pid;
    const timer = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(timer);
      this.followed = undefined;
      const next = successorOf(this.pidFile, pid);
      if (next !== undefined) {
        say(`${this.name} handed over from pid ${pid} to pid ${next}; following it`);
        this.follow(next, startedAt, resolve);
        return;
      }
      this.ended(null, null, startedAt, resolve);
    }, followPollMs);
  }

  /** The process (or the successor it handed over to) is gone: restart it with backoff. */
  ended(code, signal, startedAt, resolve) {
    resolve();
    if (stopping) return;
    const ranMs = Date.now() - startedAt;
    if (ranMs >= stableMs) this.backoffMs = backoffMinMs;
    const how =
      code === null && signal === null
        ? "ended (a successor: its exit status went to its own parent)"
        : signal
          ? `killed by ${signal}`
          : `exited with code ${code}`;
    this.restarts++;
    say(
      `${this.name} ${how} after ${(ranMs / 1000).toFixed(1)} s; restarting in ${this.backoffMs / 1000} s (restart ${this.restarts})`,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!stopping) this.start();
    }, this.backoffMs);
    this.backoffMs = Math.min(backoffMaxMs, this.backoffMs * 2);
  }

  signal(sig) {
    try {
      if (this.followed !== undefined) process.kill(this.followed, sig);
      else this.child?.kill(sig);
    } catch {
      // already gone
    }
  }

  /** One SIGTERM, then SIGKILL at the deadline; resolves once the process is gone. */
  async stop() {
    clearTimeout(this.timer);
    if (!this.child && this.followed === undefined) return;
    this.signal("SIGTERM");
    const deadline = setTimeout(() => {
      say(`${this.name} still running after ${stopTimeoutMs / 1000} s: killing it`);
      this.signal("SIGKILL");
    }, stopTimeoutMs);
    await this.exited;
    clearTimeout(deadline);
  }
}

let stopping = false;
let stopAt = 0;
const supervised = parseSpecs(process.argv.slice(2)).map((spec) => new Supervised(spec));

async function stopAll(signal) {
  if (stopping) {
    if (Date.now() - stopAt < 1000) return;
    say(`${signal} again: killing everything now`);
    for (const s of supervised) s.signal("SIGKILL");
    return;
  }
  stopping = true;
  stopAt = Date.now();
  say("stopping");
  for (const s of [...supervised].reverse()) await s.stop();
  say("stopped");
  process.exit(0);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void stopAll(signal));
process.on("exit", () => {
  for (const s of supervised) s.signal("SIGKILL");
});
for (const s of supervised) s.start();
