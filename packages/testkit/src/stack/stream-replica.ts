import type { ManagedProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";
import { spawnServiceReplica } from "./service-replica.js";

export interface StreamReplica {
  name: string;
  process: ManagedProcess;
  metricsPort: number;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts a stream service process (services/stream/dist/main.js) against a running edge, reading
 * the edge's config file (its forward routes), and waits until it has joined the `stream` pool.
 */
export async function startStreamReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: { name: string; env?: NodeJS.ProcessEnv },
): Promise<StreamReplica> {
  const proc = spawnServiceReplica(edge, "stream", options);
  try {
    const started = await proc.waitForLine((l) => l.msg === "stream started");
    await proc.waitForLine((l) => l.msg === "attached to the edge");
    return {
      name: options.name,
      process: proc,
      metricsPort: Number(started.metrics),
      stop: () => proc.stop(),
      kill: () => proc.kill(),
    };
  } catch (err) {
    await proc.kill();
    throw err;
  }
}
