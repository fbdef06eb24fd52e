import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ManagedProcess, startProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";

/** The repository root, for the services' built entry points. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export interface ReplicaOptions {
  name: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns `services/<service>/dist/main.js` as one replica behind a running edge: the edge's config
 * and token files, its gRPC address, the replica's name as its instance, and its own gRPC and
 * metrics ports (any free one) so several replicas share the host.
 */
export function spawnServiceReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  service: string,
  options: ReplicaOptions,
): ManagedProcess {
  return startProcess(options.name, process.execPath, [join(repoRoot, `services/${service}/dist/main.js`)], {
    env: {
      ...process.env,
      SWITCHYARD_CONFIG: edge.configPath,
      SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
      SWITCHYARD_EDGE: edge.grpc,
      SWITCHYARD_INSTANCE: options.name,
      SWITCHYARD_GRPC_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_METRICS_ADDRESS: "127.0.0.1:0",
      SWITCHYARD_LOG_LEVEL: process.env.SWITCHYARD_LOG_LEVEL ?? "info",
      ...options.env,
    },
  });
}

/** A running service replica, with the gRPC address and metrics port it chose at start. */
export interface ServiceReplica {
  name: string;
  process: ManagedProcess;
  /** The replica's admin gRPC address and metrics port (both chosen free at start). */
  grpc: string;
  metricsPort: number;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Spawns a replica (spawnServiceReplica) and waits for its `<service> started` line, then for each
 * of `readyLines` in turn (what "ready" means for that service); kills it when it does not get there.
 */
export async function startServiceReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  service: string,
  options: ReplicaOptions,
  readyLines: readonly string[],
): Promise<ServiceReplica> {
  const proc = spawnServiceReplica(edge, service, options);
  try {
    const started = await proc.waitForLine((l) => l.msg === `${service} started`, READY_TIMEOUT_MS);
    for (const msg of readyLines) await proc.waitForLine((l) => l.msg === msg, READY_TIMEOUT_MS);
    return {
      name: options.name,
      process: proc,
      grpc: `127.0.0.1:${String(started.grpc)}`,
      metricsPort: Number(started.metrics),
      stop: () => proc.stop(),
      kill: () => proc.kill(),
    };
  } catch (err) {
    await proc.kill();
    throw err;
  }
}

/** How long a replica may take to start and get ready (a loaded CI machine builds TLS contexts slowly). */
const READY_TIMEOUT_MS = 30_000;
