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

/** The most ports one range may span (each is a listener on the edge). */
export const MAX_RANGE_PORTS = 1024;

/** A span of ports, both ends included: `{ from: 10000, to: 10100 }`. */
const portRange = z
  .strictObject({ from: port, to: port })
  .refine((r) => r.from <= r.to, { error: "from is above to" })
  .refine((r) => r.to - r.from < MAX_RANGE_PORTS, {
    error: `a range spans at most ${MAX_RANGE_PORTS} ports`,
  });

const matchSchema = z.strictObject({
  /** Ports, or ranges of them (`{ from, to }`); a range is the same as listing each port. */
  ports: z
    .array(
      z.union([port, portRange], {
        error: (iss) =>
          typeof iss.input === "object" && iss.input !== null
            ? "expected a range { from, to } of ports"
            : `expected number (a port) or a range { from, to } (got ${JSON.stringify(iss.input)})`,
      }),
    )
    .min(1, { error: "needs at least one port" }),
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
const target = z.strictObject({ host: z.string().min(1), port });
const forwardAction = z.strictObject({
  type: z.literal("forward"),
  /** The backend; or give `targets` (several backends, least connections, unhealthy ones skipped). */
  host: z.string().min(1).optional(),
  port: port.optional(),
  targets: z.array(target).min(1).max(64).optional(),
  /**
   * `fixed`: every connection goes to the target's port. `offset`: to the target's port plus the
   * accepted port's distance from the route's lowest port (10005 of 10000-10100 -> target port + 5).
   */
  portMapping: z.enum(["fixed", "offset"]).default("fixed"),
  /**
   * TCP: pass a half-close on (shutdown) and close both sides only when both have ended. Default:
   * both sides are closed as soon as one ends (what it sent is delivered first).
   */
  halfOpen: z.boolean().default(false),
  /** UDP: sessions (client address -> upstream socket) at most, on the route and per client address. */
  maxSessions: z.number().int().min(1).max(1_000_000).default(10_000),
  maxSessionsPerClient: z.number().int().min(1).max(65_536).default(64),
  /** Send a PROXY header to the backend so it sees the client's address. */
  proxyProtocol: z.enum(["none", "v1", "v2"]).default("none"),
  connectTimeoutMs: z.number().int().min(1).max(120_000).default(5000),
  /** Close after this long without a byte (TCP) or a datagram (UDP); 0: never. Default: TCP 0, UDP 60 s. */
  idleTimeoutMs: z.number().int().min(0).optional(),
  /** `engine: nftables` only: rewrite the source to this host's address so replies come back through it. */
  masquerade: z.boolean().default(false),
});
const blockAction = z.strictObject({ type: z.literal("block") });

export const actionSchema = z.discriminatedUnion("type", [handoffAction, forwardAction, blockAction]);

const routeObject = z.strictObject({
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
});

export const routeSchema = routeObject
  .superRefine((route, ctx) => {
    if (route.action.type === "forward") for (const issue of forwardIssues(route)) ctx.addIssue({ ...issue });
    if (route.match.protocol === "udp" && route.engine === "edge") {
      if (route.action.type === "block") {
        ctx.addIssue({
          code: "custom",
          path: ["action", "type"],
          message: "udp routes hand off to a pool or forward (the edge never sees the datagrams to block)",
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
  })
  .transform(normalizeRoute);

/**
 * After the checks: ranges become the ports they span, and a forward action always has `targets`
 * (with `host`/`port` its first one), so every reader sees one shape.
 */
type RawRoute = z.infer<typeof routeObject>;
type RawAction = z.infer<typeof actionSchema>;
type ParsedForward = Omit<Extract<RawAction, { type: "forward" }>, "host" | "port" | "targets"> & {
  host: string;
  port: number;
  targets: Array<{ host: string; port: number }>;
  /** The route's lowest port, for `portMapping: offset`. */
  basePort: number;
};
type ParsedRoute = Omit<RawRoute, "match" | "action"> & {
  match: Omit<RawRoute["match"], "ports"> & { ports: number[] };
  action: Exclude<RawAction, { type: "forward" }> | ParsedForward;
};

function normalizeRoute(route: RawRoute): ParsedRoute {
  const ports = [
    ...new Set(
      route.match.ports.flatMap((p) =>
        typeof p === "number" ? [p] : Array.from({ length: p.to - p.from + 1 }, (_, i) => p.from + i),
      ),
    ),
  ];
  const match = { ...route.match, ports };
  if (route.action.type !== "forward") return { ...route, match, action: route.action };
  const a = route.action;
  const targets = a.targets ?? [{ host: a.host as string, port: a.port as number }];
  const first = targets[0] as { host: string; port: number };
  const action = { ...a, host: first.host, port: first.port, targets, basePort: Math.min(...ports) };
  return { ...route, match, action };
}

/** What a forward action cannot be: no target, or two ways of naming one; UDP without TCP's options. */
function forwardIssues(route: z.infer<typeof routeObject>): RouteIssue[] {
  const issues: RouteIssue[] = [];
  const a = route.action;
  if (a.type !== "forward") return issues;
  const add = (path: Array<string | number>, message: string) =>
    issues.push({ code: "custom", path: ["action", ...path], message });
  if (a.targets !== undefined && (a.host !== undefined || a.port !== undefined))
    add(["targets"], "give either host and port or targets, not both");
  if (a.targets === undefined && (a.host === undefined || a.port === undefined))
    add([a.host === undefined ? "host" : "port"], "a forward needs host and port (or targets)");
  if (a.portMapping === "offset") {
    const ports = route.match.ports.flatMap((p) => (typeof p === "number" ? [p] : [p.from, p.to]));
    const span = Math.max(...ports) - Math.min(...ports);
    for (const [i, t] of (a.targets ?? [{ port: a.port ?? 0 }]).entries())
      if (t.port + span > 65535)
        add(
          a.targets ? ["targets", i, "port"] : ["port"],
          `${t.port} + the route's span of ${span} ports is over 65535`,
        );
  }
  if (route.engine === "nftables" && (a.targets?.length ?? 1) > 1)
    add(["targets"], "engine nftables routes forward to one target");
  if (route.match.protocol === "udp") {
    if (a.proxyProtocol !== "none") add(["proxyProtocol"], "udp forwards send no PROXY header");
    if (a.halfOpen) add(["halfOpen"], "halfOpen is for tcp forwards");
  }
  return issues;
}

interface RouteIssue {
  code: "custom";
  path: Array<string | number>;
  message: string;
}

/** What the kernel cannot do for an `engine: nftables` route: it sees packets, not names or bytes. */
function kernelRouteIssues(route: {
  match: { domains: string[]; paths: string[] };
  action: z.infer<typeof actionSchema>;
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
    const host = route.action.host ?? route.action.targets?.[0]?.host ?? "";
    const reason = kernelTargetProblem(host);
    if (reason) add(["action", "host"], `${JSON.stringify(host)} ${reason}`);
    if (route.action.proxyProtocol !== "none") {
      add(["action", "proxyProtocol"], "the kernel cannot send a PROXY header; use engine: edge");
    }
  }
  return issues;
}

/** Why a route cannot carry `role`, or undefined when it can: the pool it hands off to must serve it. */
function roleProblem(
  role: string,
  action: z.infer<typeof actionSchema>,
  protocol: "tcp" | "udp",
): string | undefined {
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
export type RouteAction = RouteConfig["action"];
/** A forward route's action, as parsed: `targets` always set, `host`/`port` its first target. */
export type ForwardAction = Extract<RouteAction, { type: "forward" }>;
export type RouteSecurity = z.infer<typeof securitySchema>;
