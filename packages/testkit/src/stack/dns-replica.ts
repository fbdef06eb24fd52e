import type { EdgeHarness } from "./edge-harness.js";
import { type ReplicaOptions, type ServiceReplica, startServiceReplica } from "./service-replica.js";

export type DnsReplica = ServiceReplica;

/**
 * Starts a dns service process (services/dns/dist/main.js) against a running edge, reading the
 * edge's config file (its `dns` section), and waits until it serves the edge's UDP socket.
 */
export function startDnsReplica(
  edge: Pick<EdgeHarness, "grpc" | "tokenFile" | "configPath">,
  options: ReplicaOptions,
): Promise<DnsReplica> {
  return startServiceReplica(edge, "dns", options, ["serving udp"]);
}
