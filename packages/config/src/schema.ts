import { z } from "zod";
import { edgeSchema } from "./edge-schema.js";
import { impliedRoutes } from "./routes/implied-routes.js";
import { type RouteConfig, routeSchema } from "./routes/route-schema.js";
import {
  certsSectionSchema,
  dnsSectionSchema,
  firewallSectionSchema,
  httpSectionSchema,
  mailSectionSchema,
  natsSchema,
  streamSectionSchema,
} from "./service-sections.js";

export const configSchema = z
  .strictObject({
    edge: edgeSchema.prefault({}),
    routes: z.array(routeSchema).default([]),
    nats: natsSchema.prefault({}),
    dns: dnsSectionSchema.optional(),
    mail: mailSectionSchema.optional(),
    certs: certsSectionSchema.optional(),
    firewall: firewallSectionSchema.optional(),
    stream: streamSectionSchema.prefault({}),
    http: httpSectionSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.routes.forEach((r, i) => {
      const first = seen.get(r.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "name"],
          message: `route name ${JSON.stringify(r.name)} is already used by routes[${first}]`,
        });
      } else seen.set(r.name, i);
    });
    for (const issue of kernelRoutePortIssues(config)) ctx.addIssue({ ...issue });
    for (const issue of withoutSniIssues(config)) ctx.addIssue({ ...issue });
    for (const issue of httpTlsIssues(config)) ctx.addIssue({ ...issue });
  });

/** One route per port, explicit or implied, takes the TLS clients without SNI: the port's default. */
function withoutSniIssues(config: {
  routes: RouteConfig[];
  dns?: Parameters<typeof impliedRoutes>[0]["dns"];
  mail?: Parameters<typeof impliedRoutes>[0]["mail"];
  certs?: Parameters<typeof impliedRoutes>[0]["certs"];
  http?: Parameters<typeof impliedRoutes>[0]["http"];
}): Array<{ code: "custom"; path: Array<string | number>; message: string }> {
  const issues: Array<{ code: "custom"; path: Array<string | number>; message: string }> = [];
  const named = new Set(config.routes.map((r) => r.name));
  const owner = new Map<number, string>();
  const claim = (route: RouteConfig, path: Array<string | number>) => {
    if (!route.match.withoutSni || route.engine !== "edge" || route.match.domains.length === 0) return;
    for (const port of route.match.ports) {
      const other = owner.get(port);
      if (other === undefined) owner.set(port, route.name);
      else
        issues.push({
          code: "custom",
          path,
          message: `port ${port}: clients without SNI already go to route ${JSON.stringify(other)}; one route per port takes them`,
        });
    }
  };
  for (const [i, r] of config.routes.entries()) claim(r, ["routes", i, "match", "withoutSni"]);
  for (const r of impliedRoutes(config)) if (!named.has(r.name)) claim(r, ["dns", "doh", "withoutSni"]);
  return issues;
}

/**
 * An `engine: nftables` route takes its ports away from the edge (the kernel rewrites the packets
 * before any socket sees them), so no edge route, explicit or implied, may share one; and the agent
 * that programs it needs the firewall section.
 */
function kernelRoutePortIssues(config: {
  routes: RouteConfig[];
  firewall?: unknown;
  dns?: Parameters<typeof impliedRoutes>[0]["dns"];
  mail?: Parameters<typeof impliedRoutes>[0]["mail"];
  certs?: Parameters<typeof impliedRoutes>[0]["certs"];
  http?: Parameters<typeof impliedRoutes>[0]["http"];
}): Array<{ code: "custom"; path: Array<string | number>; message: string }> {
  const issues: Array<{ code: "custom"; path: Array<string | number>; message: string }> = [];
  const named = new Set(config.routes.map((r) => r.name));
  const edgeRoutes = [
    ...config.routes.filter((r) => r.engine === "edge"),
    ...impliedRoutes(config).filter((r) => !named.has(r.name)),
  ];
  const edgePorts = new Map<string, string>();
  for (const r of edgeRoutes)
    for (const p of r.match.ports) {
      const key = `${p}/${r.match.protocol}`;
      if (!edgePorts.has(key)) edgePorts.set(key, r.name);
    }
  const kernelPorts = new Map<string, string>();
  config.routes.forEach((r, i) => {
    if (r.engine !== "nftables") return;
    if (config.firewall === undefined) {
      issues.push({
        code: "custom",
        path: ["routes", i, "engine"],
        message: "engine nftables needs a firewall section (the nftables agent programs the route)",
      });
    }
    r.match.ports.forEach((p, j) => {
      const key = `${p}/${r.match.protocol}`;
      const other = edgePorts.get(key) ?? kernelPorts.get(key);
      if (other !== undefined) {
        issues.push({
          code: "custom",
          path: ["routes", i, "match", "ports", j],
          message: `${key} is also used by route ${JSON.stringify(other)}; an engine nftables route owns its ports alone`,
        });
      } else kernelPorts.set(key, r.name);
    });
  });
  return issues;
}

/**
 * A site with `tls: auto` gets its certificate from the certs service, so the file needs a certs
 * section; and a wildcard from a public CA needs dns-01, which needs the servers to check.
 */
function httpTlsIssues(config: {
  http?: Parameters<typeof impliedRoutes>[0]["http"];
  certs?: Parameters<typeof impliedRoutes>[0]["certs"];
}): Array<{ code: "custom"; path: Array<string | number>; message: string }> {
  const issues: Array<{ code: "custom"; path: Array<string | number>; message: string }> = [];
  const { http, certs } = config;
  if (!http) return issues;
  http.sites.forEach((site, i) => {
    if (site.tls !== "auto") return;
    if (!certs) {
      issues.push({
        code: "custom",
        path: ["http", "sites", i, "tls"],
        message: "tls: auto needs a certs section (it issues the certificate); or give certFile and keyFile",
      });
      return;
    }
    const wildcard = site.domains.some((d) => d.startsWith("*.") && !coveredBy(certs.certificates, d));
    if (wildcard && certs.directory !== "internal" && certs.dns01.servers.length === 0) {
      issues.push({
        code: "custom",
        path: ["http", "sites", i, "domains"],
        message:
          "a wildcard with tls: auto needs dns-01: set certs.dns01.servers (or list the certificate in certs)",
      });
    }
  });
  return issues;
}

/** True when one of `certificates` already covers `name` (exactly, or by its one-label wildcard). */
export function coveredBy(certificates: Array<{ name: string; altNames: string[] }>, name: string): boolean {
  const lower = name.toLowerCase().replace(/\.$/, "");
  const dot = lower.indexOf(".");
  const wildcard = dot > 0 && !lower.startsWith("*.") ? `*${lower.slice(dot)}` : undefined;
  return certificates.some((c) =>
    [c.name, ...c.altNames].some((n) => n === lower || (wildcard !== undefined && n === wildcard)),
  );
}

/** The whole validated file. */
export type SwitchyardConfig = z.infer<typeof configSchema>;
