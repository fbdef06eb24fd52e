import { z } from "zod";
import { cidr, domainPattern, name, port } from "./primitives.js";

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
});
const blockAction = z.strictObject({ type: z.literal("block") });

export const actionSchema = z.discriminatedUnion("type", [handoffAction, forwardAction, blockAction]);

export const routeSchema = z
  .strictObject({
    name,
    match: matchSchema,
    action: actionSchema,
    security: securitySchema.prefault({}),
    /** What a client gets when no worker can take it: a `421` SMTP greeting, an HTTP `503`, or a close. */
    refusal: z.enum(["smtp", "http", "close"]).default("close"),
  })
  .superRefine((route, ctx) => {
    if (route.match.protocol === "udp") {
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
    if (route.match.paths.length > 0 && route.match.protocol !== "tcp") {
      ctx.addIssue({ code: "custom", path: ["match", "paths"], message: "paths need a tcp route" });
    }
  });

export type RouteConfig = z.infer<typeof routeSchema>;
export type RouteAction = z.infer<typeof actionSchema>;
export type RouteSecurity = z.infer<typeof securitySchema>;
