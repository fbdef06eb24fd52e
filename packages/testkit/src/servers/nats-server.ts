import { type ChildProcess, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { rmSync } from "node:fs";
import { access, constants, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ensureNatsAuth, type NatsCredentials, type NatsRole } from "@switchyard/runtime";
import { claimPort } from "../port-claims.js";

export interface NatsServerOptions {
  /** Enable JetStream with file storage in a temporary directory. */
  jetstream?: boolean;
  /** Port to listen on (to restart a server where clients expect it). Default: a free port. */
  port?: number;
  /** JetStream storage to use and keep (to restart a server with its data). Default: a temp dir removed by stop(). */
  storeDir?: string;
  /** Require this token from every client. */
  token?: string;
  /**
   * Per-role users with least privilege, as `npm start` and compose run it (ensureNatsAuth in the
   * server's directory, or in `dir` to make the credentials before the server starts and keep them
   * across restarts): clients connect with `credentials[role].file`.
   */
  auth?: boolean | { dir: string };
}

export interface NatsServerHandle {
  url: string;
  port: number;
  pid: number;
  /** Temporary directory of this server (JetStream storage when enabled); removed by stop(). */
  storeDir: string;
  /** With `auth`: each role's login and its credentials file (for config `nats.credentialsFile`). */
  credentials?: Record<NatsRole, NatsCredentials & { file: string }>;
  /** With `auth`: a `nats.credentialsFile` template naming every role's file (`.../{role}.cred`). */
  credentialsFile?: string;
  /** The server's "Publish Violation" / "Subscription Violation" log lines so far (what a user was refused). */
  permissionViolations: string[];
  stop(): Promise<void>;
}

const READY_LINE = "Server is ready";
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const running = new Map<ChildProcess, string>();

/** Ports this process has handed out: never handed out twice. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1, for a server that must be told its port in advance (prefer binding
 * port 0 and reading the port back where the server reports it, as the edge harness does).
 * Chosen at random below the kernel's ephemeral range (32768+), where no `listen(0)` and no
 * outgoing connection of any process lands, checked free by binding it, and never handed out twice
 * by this process; the old way (bind port 0, release, hand out) gave away a port from the very
 * range other test files' servers were binding at the same time.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = randomInt(FREE_PORT_RANGE[0], FREE_PORT_RANGE[1]);
    if (handedOut.has(port) || !(await claimPort(port))) continue;
    if (!(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`freePort: no free port in ${FREE_PORT_RANGE.join("-")}`);
}

/** freePort's range; closedPort (ports.ts) takes the next one up, so the two never meet. */
export const FREE_PORT_RANGE = [20_000, 30_000] as const;

function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Starts Debian's nats-server on 127.0.0.1 and resolves once it accepts connections. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = await findNatsServer();
  const keep = options.storeDir !== undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "switchyard-nats-")));
  try {
    const port = options.port ?? (await freePort());
    const args = ["-a", "127.0.0.1", "-p", String(port)];
    if (options.jetstream) args.push("-js", "-sd", storeDir);
    if (options.token !== undefined) args.push("--auth", options.token);
    const authDir = typeof options.auth === "object" ? options.auth.dir : join(storeDir, "auth");
    const auth = options.auth ? await ensureNatsAuth(authDir) : undefined;
    if (auth) args.push("-c", auth.config);
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    running.set(child, keep ? "" : storeDir);
    child.once("exit", () => running.delete(child));
    const permissionViolations: string[] = [];
    const onOutput = (chunk: Buffer): void => {
      for (const line of chunk.toString("utf8").split("\n"))
        if (/(Publish|Subscription) Violation/.test(line)) permissionViolations.push(line);
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    await waitUntilReady(child, port);
    const pid = child.pid ?? -1;
    return {
      url: `nats://127.0.0.1:${port}`,
      port,
      pid,
      storeDir,
      permissionViolations,
      ...(auth && {
        credentials: auth.credentials,
        credentialsFile: join(authDir, "{role}.cred"),
      }),
      stop: () => stopServer(child, keep ? "" : storeDir),
    };
  } catch (error) {
    if (!keep) await rm(storeDir, { recursive: true, force: true });
    throw error;
  }
}

async function findNatsServer(): Promise<string> {
  const dirs = ["/usr/bin", "/usr/sbin", ...(process.env["PATH"] ?? "").split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    "nats-server not found: install the Debian package 'nats-server' (apt-get install nats-server)",
  );
}

function waitUntilReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString("utf8")).slice(-8_192);
      if (output.includes(READY_LINE)) finish();
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(
        new Error(`nats-server on port ${port} exited (${signal ?? code}) before it was ready:\n${output}`),
      );
    const onError = (error: Error): void => finish(error);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new Error(`nats-server on port ${port} not ready after ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
      // Keep draining the pipes so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      if (error) reject(error);
      else resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}

async function stopServer(child: ChildProcess, storeDir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  running.delete(child);
  if (storeDir !== "") await rm(storeDir, { recursive: true, force: true });
}

// A test that crashes must not leave servers behind. 'exit' handlers must be synchronous.
process.once("exit", () => {
  for (const [child, storeDir] of running) {
    child.kill("SIGKILL");
    if (storeDir !== "") rmSync(storeDir, { recursive: true, force: true });
  }
});
