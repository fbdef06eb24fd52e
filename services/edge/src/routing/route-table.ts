import { CidrSet } from "@switchyard/cidr";
import {
  type LoadedConfig,
  type RouteAction,
  type RouteConfig,
  routePool,
  routeRole,
} from "@switchyard/config";
import { compileDomainPatterns, matchPath } from "./domain-match.js";

/** What the edge knows about a connection when it picks a route. */
export interface RoutingFacts {
  port: number;
  clientIp: string;
  /** SNI from a TLS ClientHello, or Host from an HTTP request head. */
  domain?: string | undefined;
  /** Request path, for plain HTTP. */
  path?: string | undefined;
  /** A TLS ClientHello without SNI (the client connected by IP address). */
  tlsWithoutSni?: boolean;
}

export interface CompiledRoute {
  name: string;
  origin: string;
  config: RouteConfig;
  action: RouteAction;
  refusal: RouteConfig["refusal"];
  /** What a handed-off connection is for, told to the worker (`forward` for forward routes). */
  role: RouteConfig["role"];
  /** The pool that takes the route's connections: the handoff's, or stream for forward routes. */
  pool: string | undefined;
  ports: ReadonlySet<number>;
  protocol: "tcp" | "udp";
  /** Needs the first bytes (ClientHello or request head) to decide. */
  inspects: boolean;
  matchesDomain: ((name: string) => boolean) | null;
  /** Also takes TLS clients that send no SNI. */
  withoutSni: boolean;
  paths: string[];
  clientIps: CidrSet | null;
  allow: CidrSet | null;
  block: CidrSet | null;
  maxConnections: number;
  maxConnectionsPerIp: number;
}

export function compileRoute(route: RouteConfig & { origin: string }): CompiledRoute {
  const { match, security } = route;
  return {
    name: route.name,
    origin: route.origin,
    config: route,
    action: route.action,
    refusal: route.refusal,
    role: routeRole(route),
    pool: routePool(route),
    ports: new Set(match.ports),
    protocol: match.protocol,
    inspects: match.domains.length > 0 || match.paths.length > 0,
    matchesDomain: match.domains.length > 0 ? compileDomainPatterns(match.domains) : null,
    withoutSni: match.withoutSni,
    paths: match.paths,
    clientIps: match.clientIps.length > 0 ? new CidrSet(match.clientIps) : null,
    allow: security.ipAllowList.length > 0 ? new CidrSet(security.ipAllowList) : null,
    block: security.ipBlockList.length > 0 ? new CidrSet(security.ipBlockList) : null,
    maxConnections: security.maxConnections,
    maxConnectionsPerIp: security.maxConnectionsPerIp,
  };
}

/** The routes of one config, indexed by port, first match wins in file order. */
export class RouteTable {
  readonly routes: CompiledRoute[];
  private readonly tcpByPort = new Map<number, CompiledRoute[]>();
  private readonly udpByPort = new Map<number, CompiledRoute>();

  constructor(config: Pick<LoadedConfig, "effectiveRoutes">) {
    this.routes = config.effectiveRoutes.map(compileRoute);
    for (const route of this.routes) {
      // The kernel carries `engine: nftables` routes (DNAT by the nftables agent): listed, never listened on.
      if (route.config.engine === "nftables") continue;
      for (const port of route.ports) {
        if (route.protocol === "udp") {
          if (!this.udpByPort.has(port)) this.udpByPort.set(port, route);
        } else {
          const list = this.tcpByPort.get(port) ?? [];
          list.push(route);
          this.tcpByPort.set(port, list);
        }
      }
    }
  }

  tcpPorts(): number[] {
    return [...this.tcpByPort.keys()];
  }

  udpRoutes(): Array<{ port: number; route: CompiledRoute }> {
    return [...this.udpByPort].map(([port, route]) => ({ port, route }));
  }

  /** True when some route on the port can only decide after reading the client's first bytes. */
  portInspects(port: number): boolean {
    return this.tcpByPort.get(port)?.some((r) => r.inspects) ?? false;
  }

  match(facts: RoutingFacts): CompiledRoute | undefined {
    const candidates = this.tcpByPort.get(facts.port);
    if (!candidates) return undefined;
    for (const route of candidates) {
      if (route.clientIps && !route.clientIps.has(facts.clientIp)) continue;
      if (route.matchesDomain && !domainMatches(route, facts)) continue;
      if (route.paths.length > 0 && (facts.path === undefined || !matchPath(route.paths, facts.path)))
        continue;
      return route;
    }
    return undefined;
  }
}

function domainMatches(route: CompiledRoute, facts: RoutingFacts): boolean {
  if (facts.domain !== undefined) return route.matchesDomain?.(facts.domain) ?? true;
  return route.withoutSni && facts.tlsWithoutSni === true;
}
