import type { EdgeHarness } from "./edge-harness.js";
import { type ReplicaOptions, type ServiceReplica, startServiceReplica } from "./service-replica.js";

export type CertsReplica = ServiceReplica;

/**
 * Starts a certs service process (services/certs/dist/main.js) against a running edge, reading the
 * edge's config file (its `certs` and `nats` sections), and waits until it has started.
 * `env.SWITCHYARD_KV_KEY_FILE` should point at the key every replica and reader shares.
 */
export function startCertsReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: ReplicaOptions,
): Promise<CertsReplica> {
  return startServiceReplica(edge, "certs", options, []);
}
