import { POOLS, ROUTE_ROLES, type RouteRole } from "./route-roles.js";
import type { RouteConfig } from "./route-schema.js";

/**
 * The pool that takes a route's connections (and its shared UDP socket), or undefined when the edge
 * takes none (block, and routes the kernel carries): a handoff route's own pool, and the stream pool
 * for every `forward` route the edge accepts, so the edge never carries a forwarded byte.
 */
export function routePool(route: Pick<RouteConfig, "action" | "engine">): string | undefined {
  if (route.engine !== "edge") return undefined;
  if (route.action.type === "handoff") return route.action.pool;
  if (route.action.type === "forward") return POOLS.stream;
  return undefined;
}

/** The role told to the worker: the route's own, or `forward` for forward routes. */
export function routeRole(route: Pick<RouteConfig, "action" | "role">): RouteRole | undefined {
  if (route.action.type === "forward") return ROUTE_ROLES.forward;
  return route.role;
}
