import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** One JSON log line of a child that logs with createLogger. */
export type LogLine = Record<string, unknown> & { msg: string; level: number; service: string };

export interface LoggedChild {
  child: ChildProcess;
  /** Every line logged so far, in order. */
  lines: LogLine[];
  /** The nth line (default the first) with this message; rejects if the child exits first. */
  waitFor(msg: string, nth?: number): Promise<LogLine>;
  /** The exit code, once the child exited and its last lines arrived. */
  exitCode(): Promise<number | null>;
}

/** Runs `node <script> ...args`, reads its JSON log lines, and kills it when the test ends. */
export function spawnLogged(
  t: { after(fn: () => unknown): void },
  script: string,
  args: string[],
  options: SpawnOptions = {},
): LoggedChild {
  const child: ChildProcess = spawn(process.execPath, [script, ...args], {
    ...options,
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: LogLine[] = [];
  let wake: Array<() => void> = [];
  const notify = () => {
    const woken = wake;
    wake = [];
    for (const resolve of woken) resolve();
  };
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    notify();
  });
  createInterface({ input: child.stdout! }).on("line", (text) => {
    lines.push(JSON.parse(text) as LogLine);
    notify();
  });
  child.stderr!.resume();

  const waitFor = async (msg: string, nth = 1): Promise<LogLine> => {
    for (;;) {
      const found = lines.filter((entry) => entry.msg === msg);
      if (found.length >= nth) return found[nth - 1] as LogLine;
      if (done) throw new Error(`child exited without logging "${msg}":\n${JSON.stringify(lines, null, 1)}`);
      await new Promise<void>((resolve) => wake.push(resolve));
    }
  };
  const exitCode = async () => {
    const code = await exited;
    // Let the last stdout lines arrive.
    await new Promise<void>((resolve) =>
      child.stdout!.readableEnded ? resolve() : child.stdout!.once("end", resolve),
    );
    return code;
  };
  return { child, lines, waitFor, exitCode };
}
