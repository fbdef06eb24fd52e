/**
 * The README's Quick start on a fresh clone, with the real local ports: `npm start` in a `git clone`
 * of this repository's HEAD, then every command the README's Quick start and the start banner print,
 * run as printed; a worker killed is restarted; the clone stays clean (`git status`); Ctrl-C (SIGINT
 * to the process group, as a terminal sends it) stops every process of the stack within seconds.
 * It binds the fixed local ports: it runs in the system-tests phase, which runs one file at a time.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { waitFor } from "@switchyard/testkit";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BANNER_END = "Ctrl-C stops everything.";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Result> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** The environment of someone who just opened a terminal: no Switchyard settings from this run. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("SWITCHYARD_") && !key.startsWith("npm_") && !key.startsWith("NODE_TEST"))
      env[key] = value;
  }
  return env;
}

/** Every process whose working directory is in the clone: the stack, however it was started. */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => "");
    if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry));
  }
  return pids;
}

async function describe(pids: number[]): Promise<string> {
  const lines = await Promise.all(
    pids.map(
      async (pid) =>
        `${pid} ${(await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ")}`,
    ),
  );
  return lines.join("\n");
}

/** The commands of the README's Quick start: the fenced block's lines and the `npx yardctl …` spans after it. */
function readmeCommands(readme: string): { block: string[]; yardctl: string[] } {
  const section = readme.slice(
    readme.indexOf("## Quick start"),
    readme.indexOf("\n## ", readme.indexOf("## Quick start") + 3),
  );
  const fence = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(fence?.[1], "the Quick start has a sh block");
  const block = fence[1]
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean);
  const yardctl = [...section.matchAll(/`(npx yardctl [^`]+)`/g)].map((m) => m[1] as string);
  return { block, yardctl };
}

/** The banner's commands: its indented lines that start with a command name. */
function bannerCommands(output: string): string[] {
  const banner = output.slice(output.lastIndexOf("Switchyard is running"), output.indexOf(BANNER_END));
  return banner
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^(dig|kdig|swaks|npx|curl|node) /.test(line));
}

/** What each printed command must answer; a printed command with no entry here fails the test. */
const expectations: Array<[RegExp, RegExp]> = [
  [/^dig .* MX$/, /^switchyard\.test\.\s+\d+\s+IN\s+MX\s+10 mail\.switchyard\.test\.$/m],
  [/^dig .*\+tcp/, /^www\.switchyard\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1$/m],
  [/^kdig .*\+https/, /^switchyard\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1$/m],
  [/^swaks /, /<- {2}250 2\.0\.0 Ok: queued/],
  [/^npx yardctl workers$/, /^dns-\S+\s+dns\s+dns\s+ready\b[\s\S]*^mail-\S+\s+mail\s+mail\s+ready\b/m],
  [/^npx yardctl routes$/, /^dns-doh\s+10443\s+tcp\b/m],
  [/^npx yardctl stats$/, /^uptime \d+s\s+connections pending 0/m],
  [/^npx yardctl certs list$/, /^localhost\s+localhost\s+-\s+internal\s+in 29d/m],
  [/^curl .*https:\/\/www\.switchyard\.test:10443\/$/, /^Hello from the Switchyard demo upstream\.$/m],
  [
    /^curl -sI http:\/\/127\.0\.0\.1:10902\/console\/$/,
    /^HTTP\/1\.1 200 OK\r?$[\s\S]*^content-security-policy: default-src 'self'; script-src 'self';/im,
  ],
  [/^npx yardctl http sites$/, /^www\.switchyard\.test\s+www\.switchyard\.test\s+auto\s+308\b/m],
];

let work = "";
let clone = "";
let start: ChildProcess | undefined;
let output = "";

async function killStack(): Promise<void> {
  if (!clone) return;
  for (const pid of await processesIn(clone)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "quickstart-"));
  clone = join(work, "switchyard");
  const cloned = await exec("git", ["clone", "--quiet", repo, clone], work);
  assert.equal(cloned.code, 0, cloned.stderr);
});

after(async () => {
  // Whatever happened: nothing of the stack outlives the test.
  if (start?.pid && start.exitCode === null) {
    try {
      process.kill(-start.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await killStack();
  await rm(work, { recursive: true, force: true });
});

test("the Quick start on a fresh clone: npm start, every printed command, a restart, Ctrl-C", async () => {
  const { block, yardctl } = readmeCommands(await readFile(join(clone, "README.md"), "utf8"));
  assert.deepEqual(block, ["npm start", "npm test"], "the Quick start is two commands");

  // A terminal's foreground job: its own process group, which Ctrl-C signals as a whole.
  start = spawn("npm", ["start"], {
    cwd: clone,
    env: cleanEnv(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(start, "exit");
  start.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  start.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(
    "the start banner",
    () => {
      if (start?.exitCode !== null)
        throw new Error(`npm start exited (${start?.exitCode}):\n${output.slice(-4000)}`);
      return output.includes(BANNER_END);
    },
    1_200_000,
    250,
  );
  assert.doesNotMatch(output, /telemetry/i, "turbo's telemetry notice is off");

  const printed = [...bannerCommands(output), ...yardctl];
  const seen = new Set<RegExp>();
  for (const line of printed) {
    const expectation = expectations.find(([pattern]) => pattern.test(line));
    assert.ok(expectation, `no expectation for the printed command: ${line}`);
    seen.add(expectation[0]);
    const [command, ...args] = line.split(/\s+/) as [string, ...string[]];
    const result = await exec(command, args, clone);
    assert.equal(result.code, 0, `${line}\n${result.stdout}${result.stderr}`);
    assert.match(result.stdout, expectation[1], `${line}\n${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stdout + result.stderr, /handshake failed|;; ERROR|npm error/, line);
  }
  assert.equal(seen.size, expectations.length, `every expected command is printed:\n${printed.join("\n")}`);

  // A worker that dies is restarted, and says so.
  const workers = await exec("npx", ["yardctl", "workers", "--pool", "mail", "--json"], clone);
  const mailPid = Number((JSON.parse(workers.stdout) as { workers: Array<{ pid: number }> }).workers[0]?.pid);
  assert.ok(mailPid > 0, workers.stdout);
  process.kill(mailPid, "SIGKILL");
  await waitFor(
    "the restart notice",
    () => /mail killed by SIGKILL after [\d.]+ s; restarting in 1 s/.test(output),
    10_000,
  );
  await waitFor(
    "a new mail worker",
    async () => {
      const now = await exec("npx", ["yardctl", "workers", "--pool", "mail", "--json"], clone);
      const list =
        now.code === 0
          ? (JSON.parse(now.stdout) as { workers: Array<{ pid: number; state: string }> }).workers
          : [];
      return list.some((w) => w.state === "ready" && w.pid !== mailPid);
    },
    30_000,
    250,
  );
  const swaks = printed.find((line) => line.startsWith("swaks ")) as string;
  const [swaksCommand, ...swaksArgs] = swaks.split(/\s+/) as [string, ...string[]];
  const again = await exec(swaksCommand, swaksArgs, clone);
  assert.match(again.stdout, /<- {2}250 2\.0\.0 Ok: queued/, again.stdout + again.stderr);

  const status = await exec("git", ["status", "--porcelain"], clone);
  assert.equal(status.stdout, "", "npm install, the build and the run leave the clone clean");

  const stack = await processesIn(clone);
  assert.ok(stack.length >= 6, `the stack runs in the clone:\n${await describe(stack)}`);
  process.kill(-(start.pid as number), "SIGINT");
  await waitFor(
    "every process of the stack to be gone",
    async () => {
      const left = await processesIn(clone);
      if (left.length > 0) return false;
      return true;
    },
    5000,
    50,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\nstill running:\n${await describe(await processesIn(clone))}`);
  });
  // npm itself ends by the SIGINT it got, as after a Ctrl-C in a terminal.
  const [code, signal] = await exited;
  assert.ok(
    code === 0 || signal === "SIGINT",
    `npm start ended with ${code ?? signal}\n${output.slice(-2000)}`,
  );
  assert.match(output, /\[switchyard\].* stopped/);
});
