/** HTTP commands over HttpAdmin (an http worker): sites, upstreams. */
import { httpV1 } from "@switchyard/proto";
import type { CommandGroup } from "../command.js";
import { renderTable } from "../table.js";

const HttpAdmin = httpV1.HttpAdminClient;

export const httpCommands: CommandGroup = {
  title: "HTTP (reverse proxy)",
  commands: [
    {
      name: "http sites",
      summary: "the sites an http worker serves: domains, TLS, redirect, auth, path routes and upstreams",
      async run(ctx) {
        const response = await ctx.call("http", HttpAdmin, "listSites", {});
        ctx.print(response, () =>
          response.sites.length === 0
            ? "no sites served"
            : renderTable(
                ["SITE", "DOMAINS", "TLS", "REDIRECT", "AUTH", "ROUTES"],
                response.sites.map((s) => [
                  s.name,
                  s.domains.join(","),
                  s.tls,
                  s.redirectHttp ? "308" : "-",
                  s.basicAuth ? "basic" : "-",
                  s.routes
                    .map((r) => `${r.prefix}${r.stripPrefix ? " (strip)" : ""} -> ${r.upstreams.join(",")}`)
                    .join("; "),
                ]),
              ),
        );
        return 0;
      },
    },
    {
      name: "http upstreams",
      summary: "every upstream of every pool on an http worker: health, requests in flight, failed connects",
      async run(ctx) {
        const response = await ctx.call("http", HttpAdmin, "listUpstreams", {});
        ctx.print(response, () =>
          renderTable(
            [
              "POOL",
              "UPSTREAM",
              "HEALTHY",
              "CHECK",
              { header: "IN FLIGHT", align: "right" },
              { header: "CONNECT FAILURES", align: "right" },
            ],
            response.upstreams.map((u) => [
              u.pool,
              u.address,
              u.healthy ? "yes" : "no",
              u.checkedHealthy ? "pass" : "fail",
              u.inFlight,
              u.connectFailures,
            ]),
          ),
        );
        return 0;
      },
    },
  ],
};
