import type { httpV1 } from "@switchyard/proto";
import { h, table } from "../dom.js";
import type { View } from "../view.js";

interface HttpData {
  sites: httpV1.SiteInfo[];
  upstreams: httpV1.UpstreamInfo[];
}

export const httpView: View<HttpData> = {
  name: "http",
  title: "HTTP sites",
  render({ sites, upstreams }) {
    return h(
      "div",
      {},
      table(
        ["site", "domains", "tls", "paths", "connections"],
        sites.map((s) => ({
          attrs: { "data-site": s.name },
          cells: [
            s.name,
            s.domains.join(", "),
            s.tls,
            s.routes.map((r) => `${r.prefix} → ${r.upstreams.join(", ")}`).join("; "),
            s.connections,
          ],
        })),
        "no sites",
      ),
      h("h3", {}, "upstreams"),
      table(
        ["pool", "address", "health", "in flight", "connect failures"],
        upstreams.map((u) => ({
          attrs: { "data-upstream": u.address },
          cells: [
            u.pool,
            u.address,
            h("td", { class: u.healthy ? "ok" : "error" }, u.healthy ? "healthy" : "unhealthy"),
            u.inFlight,
            u.connectFailures,
          ],
        })),
        "no upstreams",
      ),
    );
  },
};
