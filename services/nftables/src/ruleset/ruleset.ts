/**
 * The ruleset model: what table `inet switchyard` should hold, built from the firewall section and
 * the `engine: nftables` routes, every value checked again on the way in (see nft-values.ts).
 */
import type { FirewallSection, RouteConfig } from "@switchyard/config";
import { RulesetInputError } from "../errors.js";
import {
  type InterfaceName,
  integer,
  interfaceName,
  type Label,
  label,
  type Network,
  type Networks,
  network,
  networks,
  type Port,
  port,
} from "./nft-values.js";

export type Protocol = "tcp" | "udp";
export type RateUnit = "second" | "minute" | "hour" | "day";

export interface Rate {
  count: number;
  per: RateUnit;
  burst: number;
}

export interface PortRule {
  protocol: Protocol;
  ports: Port[];
  /** Null: everyone may connect. */
  allow: Networks | null;
  block: Networks;
  rate: Rate | null;
}

export interface KernelRoute {
  name: Label;
  protocol: Protocol;
  ports: Port[];
  /** Null: every client. */
  clientIps: Networks | null;
  allow: Networks | null;
  block: Networks;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Null: a block route (dropped in the kernel). */
  /**
   * `portOffset`: 0 sends every port to `port`; otherwise each accepted port p goes to
   * p + portOffset (a range route with `portMapping: offset`).
   */
  target: { address: Network; port: Port; portOffset: number; masquerade: boolean } | null;
}

export interface Ruleset {
  interfaces: InterfaceName[];
  trusted: Networks;
  block: Networks;
  ports: PortRule[];
  routes: KernelRoute[];
  /** Null: no logging. */
  log: { perMinute: number } | null;
}

/** A ban as the kernel holds it: an element of `ban_v4`/`ban_v6` with the time it has left. */
export interface BanElement {
  network: Network;
  timeoutMs: number;
}

const RATE_UNITS: readonly RateUnit[] = ["second", "minute", "hour", "day"];

function protocol(value: unknown, path: string): Protocol {
  if (value !== "tcp" && value !== "udp")
    throw new RulesetInputError(path, `${JSON.stringify(value)} is not tcp or udp`);
  return value;
}

function ports(values: readonly unknown[], path: string): Port[] {
  if (values.length === 0) throw new RulesetInputError(path, "needs at least one port");
  return [...new Set(values.map((v, i) => port(v, `${path}[${i}]`)))].sort((a, b) => a - b);
}

function rate(value: FirewallSection["ports"][number]["rateLimit"], path: string): Rate | null {
  if (value === undefined) return null;
  if (!RATE_UNITS.includes(value.per))
    throw new RulesetInputError(`${path}.per`, `${JSON.stringify(value.per)} is not a unit`);
  return {
    count: integer(value.count, 1, 1_000_000, `${path}.count`),
    per: value.per,
    burst: integer(value.burst, 1, 1_000_000, `${path}.burst`),
  };
}

function allowList(values: readonly unknown[], path: string): Networks | null {
  return values.length === 0 ? null : networks(values, path);
}

/** Builds the model; throws RulesetInputError naming the path of the first bad value. */
export function buildRuleset(firewall: FirewallSection, routes: readonly RouteConfig[]): Ruleset {
  const kernelRoutes: KernelRoute[] = [];
  routes.forEach((route, i) => {
    if (route.engine !== "nftables") return;
    const path = `routes[${i}]`;
    const { action, match, security } = route;
    if (action.type === "handoff")
      throw new RulesetInputError(`${path}.action`, "the kernel cannot hand off");
    kernelRoutes.push({
      name: label(route.name, `${path}.name`),
      protocol: protocol(match.protocol, `${path}.match.protocol`),
      ports: ports(match.ports, `${path}.match.ports`),
      clientIps: allowList(match.clientIps, `${path}.match.clientIps`),
      allow: allowList(security.ipAllowList, `${path}.security.ipAllowList`),
      block: networks(security.ipBlockList, `${path}.security.ipBlockList`),
      maxConnections: integer(security.maxConnections, 0, 10_000_000, `${path}.security.maxConnections`),
      maxConnectionsPerIp: integer(
        security.maxConnectionsPerIp,
        0,
        10_000_000,
        `${path}.security.maxConnectionsPerIp`,
      ),
      target:
        action.type === "block"
          ? null
          : {
              address: singleAddress(action.host, `${path}.action.host`),
              port: port(action.port, `${path}.action.port`),
              portOffset: action.portMapping === "offset" ? action.port - action.basePort : 0,
              masquerade: action.masquerade === true,
            },
    });
  });
  return {
    interfaces: [
      ...new Set(firewall.interfaces.map((n, i) => interfaceName(n, `firewall.interfaces[${i}]`))),
    ],
    trusted: networks(firewall.trusted, "firewall.trusted"),
    block: networks(firewall.blockList, "firewall.blockList"),
    ports: firewall.ports.map((rule, i) => {
      const path = `firewall.ports[${i}]`;
      return {
        protocol: protocol(rule.protocol, `${path}.protocol`),
        ports: ports(rule.ports, `${path}.ports`),
        allow: allowList(rule.allowList, `${path}.allowList`),
        block: networks(rule.blockList, `${path}.blockList`),
        rate: rate(rule.rateLimit, `${path}.rateLimit`),
      };
    }),
    routes: kernelRoutes,
    log: firewall.log.enabled
      ? { perMinute: integer(firewall.log.perMinute, 1, 10_000, "firewall.log.perMinute") }
      : null,
  };
}

function singleAddress(value: unknown, path: string): Network {
  const net = network(value, path);
  if (net.prefix !== (net.family === 4 ? 32 : 128) || String(value).includes("/"))
    throw new RulesetInputError(path, `${JSON.stringify(value)} is a network, not one address`);
  return net;
}
