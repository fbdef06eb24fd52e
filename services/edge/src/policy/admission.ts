import type { CidrSet } from "@switchyard/cidr";
import type { CompiledRoute } from "../routing/route-table.js";

/** The edge-wide rules for client addresses (compiled by config.ts). */
export interface ClientPolicy {
  allow: CidrSet | null;
  block: CidrSet | null;
  /** 0: no limit. */
  maxConnectionsPerIp: number;
}

export type Verdict = "ok" | "blocked" | "not-allowed" | "route-full" | "ip-limit";

/**
 * Who may open a connection: global and per-route IP lists, and live counts per route and per
 * client address. Counts are taken with `enter` and given back with `leave`, exactly once each.
 */
export class Admission {
  private globalAllow: CidrSet | null;
  private globalBlock: CidrSet | null;
  private maxPerIp: number;
  private readonly perIp = new Map<string, number>();
  private readonly perRoute = new Map<string, number>();
  /** Route name → client address → open connections: no key is built per connection. */
  private readonly perRouteIp = new Map<string, Map<string, number>>();

  constructor(clients: ClientPolicy) {
    this.globalAllow = null;
    this.globalBlock = null;
    this.maxPerIp = 0;
    this.configure(clients);
  }

  configure(clients: ClientPolicy): void {
    this.globalAllow = clients.allow;
    this.globalBlock = clients.block;
    this.maxPerIp = clients.maxConnectionsPerIp;
  }

  /** Global lists and the global per-address limit, before any byte is read. */
  checkClient(ip: string): Verdict {
    if (this.globalBlock?.has(ip)) return "blocked";
    if (this.globalAllow && !this.globalAllow.has(ip)) return "not-allowed";
    if (this.maxPerIp > 0 && (this.perIp.get(ip) ?? 0) >= this.maxPerIp) return "ip-limit";
    return "ok";
  }

  checkRoute(route: CompiledRoute, ip: string): Verdict {
    if (route.block?.has(ip)) return "blocked";
    if (route.allow && !route.allow.has(ip)) return "not-allowed";
    if (route.maxConnections > 0 && (this.perRoute.get(route.name) ?? 0) >= route.maxConnections) {
      return "route-full";
    }
    if (
      route.maxConnectionsPerIp > 0 &&
      (this.perRouteIp.get(route.name)?.get(ip) ?? 0) >= route.maxConnectionsPerIp
    ) {
      return "ip-limit";
    }
    return "ok";
  }

  enterClient(ip: string): void {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  leaveClient(ip: string): void {
    decrement(this.perIp, ip);
  }

  enterRoute(route: string, ip: string): void {
    this.perRoute.set(route, (this.perRoute.get(route) ?? 0) + 1);
    let ips = this.perRouteIp.get(route);
    if (!ips) {
      ips = new Map();
      this.perRouteIp.set(route, ips);
    }
    ips.set(ip, (ips.get(ip) ?? 0) + 1);
  }

  leaveRoute(route: string, ip: string): void {
    decrement(this.perRoute, route);
    const ips = this.perRouteIp.get(route);
    if (!ips) return;
    decrement(ips, ip);
    if (ips.size === 0) this.perRouteIp.delete(route);
  }

  /** Entries held: returns to zero when every connection has ended (tests check it). */
  get size(): number {
    let routeIps = 0;
    for (const ips of this.perRouteIp.values()) routeIps += ips.size;
    return this.perIp.size + this.perRoute.size + routeIps;
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
