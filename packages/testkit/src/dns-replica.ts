import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EdgeHarness } from "./edge-harness.js";
import { type ManagedProcess, startProcess } from "./managed-process.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

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
  const proc = startProcess(options.name, process.execPath, [join(repoRoot, "services/dns/dist/main.js")], {
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
