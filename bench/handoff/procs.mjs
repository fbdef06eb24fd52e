/**
 * Child processes of the benchmark (every one is stopped on exit, whatever happens) and /proc sampling.
 */
import { spawn } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

const children = new Set();

function killAll(signal) {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }
}

process.on("exit", () => killAll("SIGKILL"));
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    killAll("SIGTERM");
    setTimeout(() => process.exit(130), 500);
  });
}

/**
 * Starts a process, optionally pinned with taskset (which execs it: the pid is the program's own).
 * stdout lines are parsed as JSON when they can be; everything is also written to `<logDir>/<name>.log`.
 */
export function start(name, command, args, { env = process.env, cpus, logDir, stdin = "ignore" } = {}) {
  const [cmd, argv] = cpus ? ["taskset", ["-c", cpus, command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { env, stdio: [stdin, "pipe", "pipe"] });
  children.add(child);
  const log = logDir ? createWriteStream(join(logDir, `${name}.log`)) : null;
  const lines = [];
  const waiters = [];
  let partial = "";
  child.stdout.on("data", (chunk) => {
    log?.write(chunk);
    partial += chunk.toString();
    let nl = partial.indexOf("\n");
    while (nl >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      let parsed = null;
      try {
        parsed = JSON.parse(line);
      } catch {
        // not JSON
      }
      const entry = { line, json: parsed };
      lines.push(entry);
      if (lines.length > 2000) lines.shift();
      for (const w of [...waiters]) {
        if (w.test(entry)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(entry);
        }
      }
      nl = partial.indexOf("\n");
    }
  });
  const stderrTail = [];
  child.stderr.on("data", (chunk) => {
    log?.write(chunk);
    stderrTail.push(chunk.toString());
    if (stderrTail.length > 50) stderrTail.shift();
  });
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      for (const w of waiters.splice(0)) {
        w.reject(
          new Error(`${name} exited (${code ?? signal}) while waiting: ${stderrTail.join("").slice(-2000)}`),
        );
      }
      log?.end();
      resolve({ code, signal });
    });
  });
  return {
    name,
    pid: child.pid,
    child,
    lines,
    exited,
    stderr: () => stderrTail.join(""),
    /** Resolves with the first stdout line (from now on, or already seen) that passes `test`. */
    waitFor(test, timeoutMs, what = "a line") {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(entry), 1);
          reject(
            new Error(
              `${name}: no ${what} within ${timeoutMs} ms; stderr: ${stderrTail.join("").slice(-2000)}`,
            ),
          );
        }, timeoutMs);
        const entry = {
          test,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.push(entry);
      });
    },
    /** SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs a process to completion (killed at `timeoutMs`); resolves with its stdout JSON lines. */
export async function run(name, command, args, { timeoutMs, ...options }) {
  const proc = start(name, command, args, options);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), timeoutMs);
  const { code, signal } = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${name} failed (${code ?? signal}): ${proc.stderr().slice(-2000)}`);
  return proc.lines.map((l) => l.json).filter(Boolean);
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux/x86-64 and arm64

/**
 * VmRSS (KiB), utime+stime (seconds, all threads; also each alone; and its exited children's), open
 * fds and threads of a process.
 */
export function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const userSeconds = Number(fields[11]) / CLK_TCK;
  const systemSeconds = Number(fields[12]) / CLK_TCK;
  const cpuSeconds = userSeconds + systemSeconds;
  // cutime + cstime: the children it has waited for (exited)
  const childrenSeconds = (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  let fds = Number.NaN;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // not ours to read
  }
  return { at: Date.now(), rssKiB, cpuSeconds, userSeconds, systemSeconds, childrenSeconds, fds, threads };
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort() {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connect to 127.0.0.1:port succeeds (the connection is closed at once). */
export async function waitForPort(port, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds the whole machine spent busy (all CPUs, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds() {
  const first = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  const [, ...ticks] = first.trim().split(/\s+/).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  return { busy: (user + nice + system + irq + softirq + steal) / CLK_TCK, idle: (idle + iowait) / CLK_TCK };
}
