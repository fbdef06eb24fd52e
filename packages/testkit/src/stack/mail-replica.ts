import type { ManagedProcess } from "../managed-process.js";
import type { EdgeHarness } from "./edge-harness.js";
import { spawnServiceReplica } from "./service-replica.js";

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
  const proc = spawnServiceReplica(edge, "mail", options);
  if (options.wait !== false) await proc.waitForLine((l) => l.msg === "attached to the edge");
  return { name: options.name, process: proc, stop: () => proc.stop(), kill: () => proc.kill() };
}
