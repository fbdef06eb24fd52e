import type { httpV1 } from "@switchyard/proto";
import type { ServiceImplementation } from "@switchyard/runtime";
import type { SiteTable } from "./sites/site-table.js";
import type { UpstreamPools } from "./upstreams/upstream-pools.js";

export interface HttpAdminDeps {
  /** The running sites and pools (they change on reload). */
  sites: SiteTable;
  pools: UpstreamPools;
  /** Client connections held now. */
  held: number;
}

/** HttpAdmin: the worker's sites and its upstreams' health and load (`yardctl http sites|upstreams`). */
export function createHttpAdmin(deps: HttpAdminDeps): ServiceImplementation<httpV1.HttpAdminService> {
  return {
    listSites() {
      return {
        sites: deps.sites.sites.map((site) => ({
          name: site.name,
          domains: site.domains,
          tls: site.tlsAuto ? "auto" : "file",
          redirectHttp: site.redirectHttp,
          basicAuth: site.auth !== undefined,
          routes: site.routes.map((r) => ({
            prefix: r.prefix,
            upstreams: r.upstreams,
            stripPrefix: r.stripPrefix,
          })),
          connections: deps.held,
        })),
      };
    },
    listUpstreams() {
      return {
        upstreams: deps.pools.all().map((u) => ({
          pool: u.pool,
          address: u.address,
          healthy: u.healthy,
          checkedHealthy: u.checkedHealthy,
          inFlight: u.inFlight,
          connectFailures: u.failures,
        })),
      };
    },
  };
}
