import { CidrSet } from "@switchyard/cidr";
import type { EdgeConfig, LoadedConfig } from "@switchyard/config";
import type { ClientPolicy } from "./policy/admission.js";
import type { RouterState } from "./routing/connection-router.js";
import { RouteTable } from "./routing/route-table.js";

/** Where workers attach and who may. */
export interface HandoffSettings {
  path: string;
  /** File mode of the socket, parsed from the config's octal string. */
  mode: number;
  allowedUids: number[];
  maxQueuedPerWorker: number;
  /** How long, and how many per pool, connections wait for a worker (0 ms: refused at once). */
  waiting: { waitMs: number; maxPerPool: number };
}

/** Everything the edge runs from, made once from a validated config (at start and on each reload). */
export interface EdgeSettings {
  /** The whole validated file (its source and routes, as the admin API lists them). */
  config: LoadedConfig;
  /** Addresses every tcp and udp port is bound on. */
  addresses: string[];
  /** The compiled route table, trusted PROXY peers and routing limits: swapped whole on reload. */
  routing: RouterState;
  /** Global allow and block lists, the per-address limit. */
  clients: ClientPolicy;
  handoff: HandoffSettings;
  workers: EdgeConfig["workers"];
  /** A reload may leave pools with attached workers without routes. */
  allowEmptyRoutes: boolean;
}

/**
 * The edge's config.ts: turns the edge section and the effective routes (the file's and the implied
 * ones) into typed, compiled settings. Throws on what the schema cannot see (a domain pattern that
 * does not compile), so a reload that fails here keeps the running settings.
 */
export function edgeSettings(edge: EdgeConfig, config: LoadedConfig): EdgeSettings {
  const { trusted } = edge.proxyProtocol;
  return {
    config,
    addresses: edge.addresses,
    routing: {
      table: new RouteTable(config),
      trustedProxies: trusted.length > 0 ? new CidrSet(trusted) : null,
      limits: edge.limits,
    },
    clients: {
      allow: edge.ipAllowList.length > 0 ? new CidrSet(edge.ipAllowList) : null,
      block: edge.ipBlockList.length > 0 ? new CidrSet(edge.ipBlockList) : null,
      maxConnectionsPerIp: edge.limits.maxConnectionsPerIp,
    },
    handoff: {
      path: edge.handoff.socket,
      mode: Number.parseInt(edge.handoff.mode, 8),
      allowedUids: edge.handoff.allowedUids,
      maxQueuedPerWorker: edge.handoff.maxQueuedPerWorker,
      waiting: { waitMs: edge.handoff.waitForWorkerMs, maxPerPool: edge.handoff.maxWaitingPerPool },
    },
    workers: edge.workers,
    allowEmptyRoutes: edge.allowEmptyRoutes,
  };
}
