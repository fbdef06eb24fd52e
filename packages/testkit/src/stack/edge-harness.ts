import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { edgeV1 } from "@switchyard/proto";
import { createGrpcClient, ensureToken, unary } from "@switchyard/runtime";
import { stringify } from "yaml";
import { type ManagedProcess, startProcess } from "../managed-process.js";
import { repoRoot } from "./service-replica.js";

export interface EdgeHarness {
  dir: string;
  tokenFile: string;
  token: string;
  configPath: string;
  grpc: string;
  metricsPort: number;
  handoffPath: string;
  /** The edge process this harness started; after upgrade() its log lines still arrive here (same pipes). */
  process: ManagedProcess;
  /** The pid of the edge serving now (a successor's after upgrade()). */
  readonly pid: number;
  admin: InstanceType<typeof edgeV1.EdgeAdminClient>;
  /**
   * An edge upgrade, by SIGUSR2 or `Upgrade` over gRPC: resolves once the new edge accepts and the
   * old one has exited; the harness then follows the new pid (stop, restart, pid).
   */
  upgrade(via?: "signal" | "rpc"): Promise<{ oldPid: number; newPid: number }>;
  /** Rewrites the config file (edge admin settings kept). */
  writeConfig(config: Record<string, unknown>): Promise<void>;
  /** Stops and starts the edge process again with the same files and ports. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

type EdgeSection = Record<string, unknown>;

/**
 * Starts a real edge process from a config object. The harness fills in the admin, metrics and
 * handoff settings unless given: gRPC and metrics bind port 0 and the edge reports the ports it got
 * ("edge started"), which are then written into the config so restart() and replicas use them; the
 * handoff socket goes in a temp dir. Everything it made is removed by stop().
 */
export async function startEdge(
  config: Record<string, unknown>,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<EdgeHarness> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-edge-"));
  const tokenFile = join(dir, "admin.token");
  const token = await ensureToken(tokenFile);
  const configPath = join(dir, "switchyard.yaml");
  let grpc = "127.0.0.1:0";
  let metricsPort = 0;
  const handoffPath = join(dir, "handoff.sock");

  const complete = (c: Record<string, unknown>) => {
    const edge = { ...((c.edge as EdgeSection | undefined) ?? {}) };
    edge.grpc ??= grpc;
    edge.metrics ??= `127.0.0.1:${metricsPort}`;
    edge.handoff = { socket: handoffPath, ...((edge.handoff as EdgeSection | undefined) ?? {}) };
    edge.addresses ??= ["127.0.0.1"];
    return { ...c, edge };
  };
  const writeConfig = (c: Record<string, unknown>) => writeFile(configPath, stringify(complete(c)));
  await writeConfig(config);

  const launch = async () => {
    const proc = startProcess("edge", process.execPath, [join(repoRoot, "services/edge/dist/main.js")], {
      env: {
        ...process.env,
        SWITCHYARD_CONFIG: configPath,
        SWITCHYARD_ADMIN_TOKEN_FILE: tokenFile,
        SWITCHYARD_LOG_LEVEL: process.env.SWITCHYARD_LOG_LEVEL ?? "info",
        ...options.env,
      },
    });
    try {
      const started = await proc.waitForLine((l) => l.msg === "edge started");
      return { proc, started };
    } catch (err) {
      await proc.stop();
      throw err;
    }
  };
  // An edge that fails to start (a port taken, a bad config) leaves neither its process nor its dir.
  const first = await launch().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const given = (config.edge as EdgeSection | undefined) ?? {};
  if (given.grpc === undefined) grpc = `127.0.0.1:${Number(first.started.grpc)}`;
  if (given.metrics === undefined) metricsPort = Number(first.started.metrics);
  else metricsPort = Number(String(given.metrics).split(":").at(-1));
  // From now on the config names the ports the edge got, for restart() and for every replica.
  await writeConfig(config);

  let current = first.proc.pid;
  const stopCurrent = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (current === harness.process.pid) {
      if (signal === "SIGKILL") await harness.process.kill();
      else await harness.process.stop();
      return;
    }
    await stopPid(current, signal);
  };
  const harness: EdgeHarness = {
    dir,
    tokenFile,
    token,
    configPath,
    grpc,
    metricsPort,
    handoffPath,
    process: first.proc,
    get pid() {
      return current;
    },
    admin: createGrpcClient(edgeV1.EdgeAdminClient, grpc, token),
    writeConfig,
    async restart() {
      await stopCurrent();
      harness.process = (await launch()).proc;
      current = harness.process.pid;
    },
    async upgrade(via = "signal") {
      const oldPid = current;
      const mark = harness.process.lines.length;
      let newPid: number;
      if (via === "rpc") {
        newPid = (await unary(harness.admin, "upgrade", {}, { deadlineMs: 30_000 })).newPid;
      } else {
        process.kill(oldPid, "SIGUSR2");
        const started = await harness.process.waitForLine(
          (l) =>
            l.msg === "edge upgrade: successor started" &&
            l.pid === oldPid &&
            harness.process.lines.indexOf(l) >= mark,
          30_000,
          { outlive: true },
        );
        newPid = Number(started.successor);
      }
      current = newPid;
      watchPid(newPid);
      await harness.process.waitForLine(
        (l) => l.msg === "edge upgrade: accepting" && l.pid === newPid,
        30_000,
        {
          outlive: true,
        },
      );
      await waitGone(oldPid, 30_000);
      return { oldPid, newPid };
    },
    async stop() {
      harness.admin.close();
      await stopCurrent();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export interface TestWorker {
  name: string;
  process: ManagedProcess;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/** Starts a test worker process (see fixture-worker.ts) and waits until it is attached. */
export async function startTestWorker(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile">,
  options: {
    name: string;
    pool: string;
    mode?: "echo" | "hash" | "silent";
    capacity?: number;
    wait?: boolean;
  },
): Promise<TestWorker> {
  const proc = startProcess(
    options.name,
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), "fixture-worker.js")],
    {
      env: {
        ...process.env,
        SWITCHYARD_EDGE: edge.grpc,
        SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
        TEST_WORKER_NAME: options.name,
        TEST_WORKER_POOL: options.pool,
        TEST_WORKER_MODE: options.mode ?? "echo",
        TEST_WORKER_CAPACITY: String(options.capacity ?? 0),
      },
    },
  );
  if (options.wait !== false) await proc.waitForLine((l) => l.msg === "attached to the edge");
  return { name: options.name, process: proc, stop: () => proc.stop(), kill: () => proc.kill() };
}

/** Edges started by an upgrade are not this process's children: killed when the test process exits. */
const watched = new Set<number>();
let exitHooked = false;
function watchPid(pid: number): void {
  watched.add(pid);
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const p of watched) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
}

/** True while `pid` runs (a zombie, waiting for a parent that is gone, counts as gone). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (await alive(pid)) {
    if (Date.now() > until) throw new Error(`edge ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops a process that is not our child: the signal, then SIGKILL after 10 s. */
async function stopPid(pid: number, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  try {
    await waitGone(pid, 10_000);
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
    await waitGone(pid, 5000);
  }
  watched.delete(pid);
}
