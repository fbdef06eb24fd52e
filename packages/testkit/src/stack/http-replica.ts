import type { EdgeHarness } from "./edge-harness.js";
import { type ReplicaOptions, type ServiceReplica, startServiceReplica } from "./service-replica.js";

export type HttpReplica = ServiceReplica;

/**
 * Starts an http service process (services/http/dist/main.js) against a running edge, reading the
 * edge's config file (its `http` section), and waits until it has joined the edge's `http` pool.
 * `env.SWITCHYARD_KV_KEY_FILE` should point at the key the certs service seals with.
 */
export function startHttpReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: ReplicaOptions,
): Promise<HttpReplica> {
  return startServiceReplica(edge, "http", options, ["attached to the edge"]);
}
