import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every line written to stdout and stderr, parsed as JSON where it is JSON. */
  readonly lines: Array<LogLine | string>;
  /**
   * Resolves with the first line (past or future) the predicate accepts; rejects on exit or timeout
   * (with `outlive`, not on exit: processes it started that share its output, such as an upgraded
   * edge, may still write the line).
   */
  waitForLine(
    predicate: (line: LogLine) => boolean,
    timeoutMs?: number,
    options?: { outlive?: boolean },
  ): Promise<LogLine>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // A test that crashes, forgets, or is interrupted must not leave servers behind.
  const killAll = () => {
    for (const child of live) child.kill("SIGKILL");
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Spawns a process whose output is captured line by line and which is killed when the test process exits. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  /** `fds`: this process's fds to pass as the child's fd 3, 4... (as systemd passes LISTEN_FDS). */
  options: { env?: NodeJS.ProcessEnv; cwd?: string; fds?: number[] } = {},
): ManagedProcess {
  hookExit();
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe", ...(options.fds ?? [])],
  });
  live.add(child);
  const lines: Array<LogLine | string> = [];
  const waiters = new Set<(line: LogLine) => void>();
  const onLine = (text: string) => {
    let parsed: LogLine | string = text;
    if (text.startsWith("{")) {
      try {
        parsed = JSON.parse(text) as LogLine;
      } catch {
        // keep the text
      }
    }
    lines.push(parsed);
    if (process.env.SWITCHYARD_TEST_VERBOSE) process.stderr.write(`[${name}] ${text}\n`);
    if (typeof parsed !== "string") for (const w of waiters) w(parsed);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on("line", onLine);
  const exited = once(child, "exit").then(([code, signal]) => {
    live.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  exited.catch(() => {});

  const waitForLine = (
    predicate: (line: LogLine) => boolean,
    timeoutMs = 15_000,
    options: { outlive?: boolean } = {},
  ): Promise<LogLine> => {
    for (const line of lines) if (typeof line !== "string" && predicate(line)) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, line?: LogLine) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve(line as LogLine);
      };
      const check = (line: LogLine) => {
        if (predicate(line)) done(null, line);
      };
      const timer = setTimeout(
        () =>
          done(
            new Error(`${name}: no matching log line within ${timeoutMs} ms; last lines:\n${tail(lines)}`),
          ),
        timeoutMs,
      );
      waiters.add(check);
      if (!options.outlive)
        exited.then(({ code, signal }) =>
          done(
            new Error(
              `${name} exited (code ${code}, signal ${signal}) before the expected line:\n${tail(lines)}`,
            ),
          ),
        );
    });
  };

  return {
    name,
    child,
    pid: child.pid ?? -1,
    lines,
    waitForLine,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

function tail(lines: Array<LogLine | string>): string {
  return lines
    .slice(-15)
    .map((l) => (typeof l === "string" ? l : JSON.stringify(l)))
    .join("\n");
}
