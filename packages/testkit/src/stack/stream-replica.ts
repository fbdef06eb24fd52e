import type { EdgeHarness } from "./edge-harness.js";
import { type ReplicaOptions, type ServiceReplica, startServiceReplica } from "./service-replica.js";

export type StreamReplica = ServiceReplica;

/**
 * Starts a stream service process (services/stream/dist/main.js) against a running edge, reading
 * the edge's config file (its forward routes), and waits until it has joined the `stream` pool.
 */
export function startStreamReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: ReplicaOptions,
): Promise<StreamReplica> {
  return startServiceReplica(edge, "stream", options, ["attached to the edge"]);
}
