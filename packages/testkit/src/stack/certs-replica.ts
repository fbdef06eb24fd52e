import type { ManagedProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";
import { spawnServiceReplica } from "./service-replica.js";

export interface CertsReplica {
  name: string;
  process: ManagedProcess;
  /** The replica's CertsAdmin gRPC address (chosen free at start). */
  grpc: string;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts a certs service process (services/certs/dist/main.js) against a running edge, reading the
 * edge's config file (its `certs` and `nats` sections), and waits until it has started.
 * `env.SWITCHYARD_KV_KEY_FILE` should point at the key every replica and reader shares.
 */
export async function startCertsReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: { name: string; env?: NodeJS.ProcessEnv },
): Promise<CertsReplica> {
  const proc = spawnServiceReplica(edge, "certs", options);
  try {
    const started = await proc.waitForLine((l) => l.msg === "certs started", 30_000);
    return {
      name: options.name,
      process: proc,
      grpc: `127.0.0.1:${String(started.grpc)}`,
      stop: () => proc.stop(),
      kill: () => proc.kill(),
    };
  } catch (err) {
    await proc.kill();
    throw err;
  }
}
