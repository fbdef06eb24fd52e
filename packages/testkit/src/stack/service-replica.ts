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
