import type { ManagedProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";
import { spawnServiceReplica } from "./service-replica.js";

export interface HttpReplica {
  name: string;
  process: ManagedProcess;
  /** The replica's HttpAdmin gRPC address and metrics port (both chosen free at start). */
  grpc: string;
  metricsPort: number;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts an http service process (services/http/dist/main.js) against a running edge, reading the
 * edge's config file (its `http` section), and waits until it has joined the edge's `http` pool.
 * `env.SWITCHYARD_KV_KEY_FILE` should point at the key the certs service seals with.
 */
export async function startHttpReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: { name: string; env?: NodeJS.ProcessEnv },
): Promise<HttpReplica> {
  const proc = spawnServiceReplica(edge, "http", options);
  try {
    const started = await proc.waitForLine((l) => l.msg === "http started", 30_000);
    await proc.waitForLine((l) => l.msg === "attached to the edge", 30_000);
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
