import type { HttpLimits, HttpSite } from "@switchyard/config";
import type { BasicAuth } from "./basic-auth.js";
import type { HeaderRules } from "./header-rules.js";

/** The per-request limits of one site: the section's, with the site's overrides. */
export interface SiteLimits {
  maxBodyBytes: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  upstreamTimeoutMs: number;
}

/** Where a request goes: a pool of upstreams, and whether the matched prefix is cut off. */
export interface Route {
  /** The key of the upstream pool (`site` or `site prefix`), as metrics and yardctl name it. */
  pool: string;
  upstreams: string[];
  prefix: string;
  stripPrefix: boolean;
}

/** One configured site, compiled: names, routes by path, auth, header rules, limits. */
export interface Site {
  /** The site's first domain: its name in logs, metrics and yardctl. */
  name: string;
  domains: string[];
  tlsAuto: boolean;
  redirectHttp: boolean;
  /** Path routes, longest prefix first; the last is the site's own upstreams (prefix `/`). */
  routes: Route[];
  auth: BasicAuth | undefined;
  requestHeaders: HeaderRules;
  responseHeaders: HeaderRules;
  limits: SiteLimits;
  healthCheck: HttpSite["healthCheck"];
}

/** Lower case, no trailing dot, no port: how a Host or SNI is compared. */
export function normalizeHost(host: string): string {
  let name = host.toLowerCase();
  if (name.startsWith("[")) return name.slice(0, name.indexOf("]") + 1);
  const colon = name.lastIndexOf(":");
  if (colon >= 0) name = name.slice(0, colon);
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/** Finds the site for a name: exact first, then `*.` (exactly one more label, as a certificate). */
export class SiteTable {
  private readonly exact = new Map<string, Site>();
  private readonly wildcard = new Map<string, Site>();

  constructor(readonly sites: Site[]) {
    for (const site of sites)
      for (const domain of site.domains) {
        const name = normalizeHost(domain);
        if (name.startsWith("*.")) this.wildcard.set(name.slice(2), site);
        else this.exact.set(name, site);
      }
  }

  find(host: string | undefined): Site | undefined {
    if (!host) return undefined;
    const name = normalizeHost(host);
    const site = this.exact.get(name);
    if (site) return site;
    const dot = name.indexOf(".");
    return dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
  }
}

/** The route for `path` (longest matching prefix; the site's upstreams otherwise). */
export function routeFor(site: Site, path: string): Route {
  for (const route of site.routes) if (path.startsWith(route.prefix)) return route;
  // The last route has prefix "/" and every origin-form path starts with "/".
  return site.routes[site.routes.length - 1] as Route;
}

/** The section's limits with the site's overrides. */
export function siteLimits(section: HttpLimits, site: HttpSite["limits"]): SiteLimits {
  return {
    maxBodyBytes: site.maxBodyBytes ?? section.maxBodyBytes,
    headerTimeoutMs: site.headerTimeoutMs ?? section.headerTimeoutMs,
    idleTimeoutMs: site.idleTimeoutMs ?? section.idleTimeoutMs,
    upstreamTimeoutMs: site.upstreamTimeoutMs ?? section.upstreamTimeoutMs,
  };
}
