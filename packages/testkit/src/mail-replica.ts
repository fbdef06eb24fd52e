import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EdgeHarness } from "./edge-harness.js";
import { type ManagedProcess, startProcess } from "./managed-process.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface MailReplica {
  name: string;
  process: ManagedProcess;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts a real mail service process (services/mail/dist/main.js) on the edge harness's config file
 * (which must have a `mail` section), with its own gRPC and metrics ports (any free one), and waits
 * until it has joined the edge's `mail` pool.
 */
export async function startMailReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: { name: string; env?: NodeJS.ProcessEnv; wait?: boolean },
): Promise<MailReplica> {
  const proc = startProcess(options.name, process.execPath, [join(repoRoot, "services/mail/dist/main.js")], {
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
  if (options.wait !== false) await proc.waitForLine((l) => l.msg === "attached to the edge");
  return { name: options.name, process: proc, stop: () => proc.stop(), kill: () => proc.kill() };
}
