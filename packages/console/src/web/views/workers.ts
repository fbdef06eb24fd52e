import type { edgeV1 } from "@switchyard/proto";
import { h, table, when } from "../dom.js";
import { button, type View } from "../view.js";

export const workersView: View<edgeV1.ListWorkersResponse> = {
  name: "workers",
  title: "Workers",
  render(data, ctx) {
    const pools = [...new Set(data.workers.map((w) => w.pool))].sort();
    if (pools.length === 0) return h("p", { class: "empty" }, "no workers attached");
    return h(
      "div",
      {},
      ...pools.map((pool) => {
        const workers = data.workers.filter((w) => w.pool === pool).sort((a, b) => a.id.localeCompare(b.id));
        return h(
          "section",
          { class: "pool", "data-pool": pool },
          h("h3", {}, `pool ${pool} (${workers.length})`),
          table(
            [
              "id",
              "instance",
              "role",
              "state",
              "active",
              "total",
              "failed",
              "capacity",
              "pid",
              "heartbeat",
              "",
            ],
            workers.map((w) => ({
              attrs: { "data-worker": w.id, "data-instance": w.instance },
              cells: [
                w.id,
                w.instance,
                w.role,
                h("td", { class: `state state-${w.state}` }, w.state),
                w.activeConnections,
                w.totalConnections,
                w.failedHandoffs,
                w.capacity || "-",
                w.pid,
                when(w.lastHeartbeatMs),
                w.state === "ready"
                  ? button(
                      "Drain",
                      () => ctx.act(`Drain worker ${w.id} (${w.instance})?`, "drain", { workerId: w.id }),
                      {
                        class: "drain",
                      },
                    )
                  : "",
              ],
            })),
            "no workers",
          ),
        );
      }),
    );
  },
};
