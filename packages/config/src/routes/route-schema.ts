import { parseIp } from "@switchyard/cidr";
import { z } from "zod";
import { cidr, domainPattern, name, port } from "../primitives.js";
import { POOL_ROLES, ROUTE_ROLES } from "./route-roles.js";

export const securitySchema = z.strictObject({
  /** Only these client addresses may use the route. Empty: everyone. */
  ipAllowList: z.array(cidr).default([]),
  /** These client addresses are closed at once. Checked before the allow list. */
  ipBlockList: z.array(cidr).default([]),
  /** Most open connections on the route; 0: no limit. */
  maxConnections: z.number().int().min(0).default(0),
  /** Most open connections on the route from one client address; 0: no limit. */
  maxConnectionsPerIp: z.number().int().min(0).default(0),
});

const matchSchema = z.strictObject({
  ports: z.array(port).min(1, { error: "needs at least one port" }),
  /** tcp routes are accepted by the edge; udp routes share the bound socket with the pool. */
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  /** SNI (TLS) or Host (plain HTTP) names; exact or `*.` globs. */
  domains: z.array(domainPattern).default([]),
  /** Request paths on plain-HTTP ports: exact, or a prefix ending in `*`. */
  paths: z.array(z.string().startsWith("/", { error: "a path starts with /" })).default([]),
  clientIps: z.array(cidr).default([]),
  /**
   * A route with domains also takes TLS clients that send no SNI (they connected by IP address, as
   * DoH clients of public resolvers do). At most one such route per port: the port's default.
   */
  withoutSni: z.boolean().default(false),
});

const handoffAction = z.strictObject({ type: z.literal("handoff"), pool: name });
const forwardAction = z.strictObject({
  type: z.literal("forward"),
  host: z.string().min(1),
  port,
  /** Send a PROXY header to the backend so it sees the client's address. */
  proxyProtocol: z.enum(["none", "v1", "v2"]).default("none"),
  connectTimeoutMs: z.number().int().min(1).max(120_000).default(5000),
  idleTimeoutMs: z.number().int().min(0).default(0),
  /** `engine: nftables` only: rewrite the source to this host's address so replies come back through it. */
  masquerade: z.boolean().default(false),
});
const blockAction = z.strictObject({ type: z.literal("block") });

export const actionSchema = z.discriminatedUnion("type", [handoffAction, forwardAction, blockAction]);

export const routeSchema = z
  .strictObject({
    name,
    match: matchSchema,
    action: actionSchema,
    /**
     * Who carries the route: `edge` (the edge process accepts it) or `nftables` (the kernel forwards
     * it with DNAT, programmed by the nftables agent; the edge does not listen on its ports).
     */
    engine: z.enum(["edge", "nftables"]).default("edge"),
    security: securitySchema.prefault({}),
    /** What a client gets when no worker can take it: a `421` SMTP greeting, an HTTP `503`, or a close. */
    refusal: z.enum(["smtp", "http", "close"]).default("close"),
    /**
     * What the connection is for, told to the worker in the handoff (mail: smtp, submission, smtps;
     * dns: dns-tcp, doh; certs: http-01). Implied routes carry theirs; a handoff route to a pool
     * that serves several kinds of connection needs one.
     */
    role: z
      .enum(Object.values(ROUTE_ROLES), {
        error: (issue) =>
          `unknown role ${JSON.stringify(issue.input)}; roles: ${Object.values(ROUTE_ROLES).join(", ")}`,
      })
      .optional(),
  })
  .superRefine((route, ctx) => {
    if (route.match.protocol === "udp" && route.engine === "edge") {
      if (route.action.type !== "handoff") {
        ctx.addIssue({
          code: "custom",
          path: ["action", "type"],
          message: "udp routes can only hand off to a pool",
        });
      }
      if (
        route.match.domains.length > 0 ||
        route.match.paths.length > 0 ||
        route.match.clientIps.length > 0
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["match"],
          message: "udp routes match on ports only (the edge never sees the datagrams)",
        });
      }
    }
    if (route.engine === "nftables") for (const issue of kernelRouteIssues(route)) ctx.addIssue({ ...issue });
    else if (route.action.type === "forward" && route.action.masquerade) {
      ctx.addIssue({
        code: "custom",
        path: ["action", "masquerade"],
        message: "masquerade needs engine: nftables (the edge's forward already connects from this host)",
      });
    }
    if (route.role !== undefined) {
      const issue = roleProblem(route.role, route.action, route.match.protocol);
      if (issue) ctx.addIssue({ code: "custom", path: ["role"], message: issue });
    }
    if (route.match.paths.length > 0 && route.match.protocol !== "tcp") {
      ctx.addIssue({ code: "custom", path: ["match", "paths"], message: "paths need a tcp route" });
    }
    if (route.match.withoutSni && (route.match.domains.length === 0 || route.match.paths.length > 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["match", "withoutSni"],
        message:
          "withoutSni is for TLS routes that match domains (a route without domains takes every client already)",
      });
    }
  });

interface RouteIssue {
  code: "custom";
  path: Array<string | number>;
  message: string;
}

/** What the kernel cannot do for an `engine: nftables` route: it sees packets, not names or bytes. */
function kernelRouteIssues(route: {
  match: { domains: string[]; paths: string[] };
  action: RouteAction;
}): RouteIssue[] {
  const issues: RouteIssue[] = [];
  const add = (path: Array<string | number>, message: string) =>
    issues.push({ code: "custom", path, message });
  if (route.action.type === "handoff") {
    add(["action", "type"], "engine nftables routes forward (DNAT) or block; handoff needs the edge");
  }
  if (route.match.domains.length > 0 || route.match.paths.length > 0) {
    add(
      ["match"],
      "engine nftables routes match ports and client IPs only (the kernel reads no SNI or Host)",
    );
  }
  if (route.action.type === "forward") {
    const reason = kernelTargetProblem(route.action.host);
    if (reason) add(["action", "host"], `${JSON.stringify(route.action.host)} ${reason}`);
    if (route.action.proxyProtocol !== "none") {
      add(["action", "proxyProtocol"], "the kernel cannot send a PROXY header; use engine: edge");
    }
  }
  return issues;
}

/** Why a route cannot carry `role`, or undefined when it can: the pool it hands off to must serve it. */
function roleProblem(role: string, action: RouteAction, protocol: "tcp" | "udp"): string | undefined {
  if (action.type !== "handoff") return `a role is for handoff routes (this one is ${action.type})`;
  if (protocol !== "tcp") return "a role is for tcp routes (udp datagrams are not handed off one by one)";
  const roles = POOL_ROLES[action.pool];
  if (!roles) return `pool ${JSON.stringify(action.pool)} takes no roles`;
  if (!(roles as readonly string[]).includes(role)) {
    return `the ${action.pool} pool does not serve role ${JSON.stringify(role)}; it serves ${roles.join(", ")}`;
  }
  return undefined;
}

/** Why `host` cannot be a DNAT target, or undefined when it can. */
function kernelTargetProblem(host: string): string | undefined {
  const ip = parseIp(host);
  if (ip === null || host.includes("%"))
    return "is not an IP address (the kernel forwards to addresses, not names)";
  const b = ip.bytes;
  if (ip.family === 4) {
    if (b[0] === 127) return "is a loopback address (the kernel does not route forwarded packets to lo)";
    if (b.every((x) => x === 0)) return "is the unspecified address";
    if (b[0]! >= 224) return "is a multicast or reserved address";
    return undefined;
  }
  if (b.every((x, i) => (i === 15 ? x === 1 : x === 0)))
    return "is a loopback address (the kernel does not route forwarded packets to lo)";
  if (b.every((x) => x === 0)) return "is the unspecified address";
  if (b[0] === 0xff) return "is a multicast address";
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return "is an IPv4-mapped address; write the IPv4 address";
  return undefined;
}

export type RouteConfig = z.infer<typeof routeSchema>;
export type RouteAction = z.infer<typeof actionSchema>;
export type RouteSecurity = z.infer<typeof securitySchema>;
