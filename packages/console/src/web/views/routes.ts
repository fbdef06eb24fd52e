import type { edgeV1 } from "@switchyard/proto";
import { h, table } from "../dom.js";
import { button, type View } from "../view.js";

interface RoutesData {
  routes: edgeV1.Route[];
  stats: edgeV1.RouteStats[];
}

export const routesView: View<RoutesData> = {
  name: "routes",
  title: "Routes",
  controls: (ctx) =>
    h(
      "div",
      { class: "controls" },
      button("Reload config", () => ctx.act("Make the edge read its config file again?", "reload"), {
        id: "reload",
      }),
    ),
  render(data) {
    const stats = new Map(data.stats.map((s) => [s.route, s]));
    return table(
      ["route", "protocol", "action", "target", "role", "source", "active", "total", "refused", "in", "out"],
      data.routes.map((r) => {
        const s = stats.get(r.name);
        return {
          attrs: { "data-route": r.name },
          cells: [
            r.name,
            r.protocol,
            r.action,
            r.target,
            r.role,
            r.source,
            s?.active ?? 0,
            s?.total ?? 0,
            s?.refused ?? 0,
            s?.bytesIn ?? 0,
            s?.bytesOut ?? 0,
          ],
        };
      }),
      "no routes",
    );
  },
};
