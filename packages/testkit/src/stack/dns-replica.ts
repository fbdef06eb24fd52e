import type { ManagedProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";
import { spawnServiceReplica } from "./service-replica.js";

export interface DnsReplica {
  name: string;
  process: ManagedProcess;
  /** The replica's DnsAdmin gRPC address and metrics port (both chosen free at start). */
  grpc: string;
  metricsPort: number;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts a dns service process (services/dns/dist/main.js) against a running edge, reading the
 * edge's config file (its `dns` section), and waits until it serves the edge's UDP socket.
 */
export async function startDnsReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: { name: string; env?: NodeJS.ProcessEnv },
): Promise<DnsReplica> {
  const proc = spawnServiceReplica(edge, "dns", options);
  try {
    const started = await proc.waitForLine((l) => l.msg === "dns started");
    await proc.waitForLine((l) => l.msg === "serving udp");
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
