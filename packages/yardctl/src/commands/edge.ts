/** Edge commands over EdgeAdmin: workers, routes, stats, drain, reload, edge upgrade. */
import { edgeV1 } from "@switchyard/proto";
import type { CommandGroup } from "../command.js";
import { CliError } from "../errors.js";
import { formatAge, formatBytes, formatDuration, formatList, renderTable } from "../table.js";

const EdgeAdmin = edgeV1.EdgeAdminClient;

export const edgeCommands: CommandGroup = {
  title: "Edge",
  commands: [
    {
      name: "workers",
      summary: "list the workers attached to the edge: pool, state, connections, last heartbeat",
      options: { pool: { type: "string", value: "P", description: "only the workers of pool P" } },
      async run(ctx) {
        const pool = typeof ctx.options.pool === "string" ? ctx.options.pool : "";
        const response = await ctx.call("edge", EdgeAdmin, "listWorkers", { pool });
        ctx.print(response, () =>
          response.workers.length === 0
            ? pool
              ? `no workers in pool ${pool}`
              : "no workers attached"
            : workersTable(response.workers, ctx.now()),
        );
        return 0;
      },
    },
    {
      name: "routes",
      summary: "list the edge's route table, implied routes included",
      async run(ctx) {
        const response = await ctx.call("edge", EdgeAdmin, "listRoutes", {});
        ctx.print(response, () =>
          response.routes.length === 0 ? "no routes" : routesTable(response.routes),
        );
        return 0;
      },
    },
    {
      name: "stats",
      summary: "connections per route and per worker, open fds, uptime",
      async run(ctx) {
        const response = await ctx.call("edge", EdgeAdmin, "getStats", {});
        ctx.print(response, () => statsText(response));
        return 0;
      },
    },
    {
      name: "drain",
      args: ["worker-id"],
      summary: "send a worker no new connections; it leaves once its open ones end",
      options: {
        replace: {
          type: "boolean",
          description: "the last worker of its pool keeps taking connections until a successor attaches",
        },
      },
      async run(ctx) {
        const workerId = ctx.args["worker-id"] ?? "";
        const replace = ctx.options.replace === true;
        const response = await ctx.call("edge", EdgeAdmin, "drainWorker", { workerId, replace });
        ctx.print(response, () =>
          response.state === "replacing"
            ? `worker ${workerId} is the last of its pool: it takes connections until a successor attaches, then drains`
            : `worker ${workerId} is draining: the edge sends it no new connections`,
        );
        return 0;
      },
    },
    {
      name: "reload",
      summary: "make the edge read its config file again (a refused config leaves the running one in place)",
      async run(ctx) {
        const response = await ctx.call("edge", EdgeAdmin, "reload", {});
        if (ctx.json) ctx.print(response, () => "");
        if (response.errors.length > 0) {
          const problems = response.errors.map((e) => `\n  ${e}`).join("");
          throw new CliError(`the edge refused the config and keeps running the previous one:${problems}`);
        }
        if (!ctx.json)
          ctx.out(`config reloaded: ${response.routes} route${response.routes === 1 ? "" : "s"}`);
        return 0;
      },
    },
    {
      name: "edge upgrade",
      summary:
        "start the edge again (new binary, new config) without closing a listening socket: workers move to the new edge",
      async run(ctx) {
        const response = await ctx.call("edge", EdgeAdmin, "upgrade", {});
        ctx.print(
          response,
          () =>
            `edge ${response.oldPid} hands over to edge ${response.newPid}; the old one exits once the new one accepts`,
        );
        return 0;
      },
    },
  ],
};

function workersTable(workers: readonly edgeV1.Worker[], now: number): string {
  const sorted = [...workers].sort((a, b) => a.pool.localeCompare(b.pool) || a.id.localeCompare(b.id));
  return renderTable(
    [
      "ID",
      "POOL",
      "ROLE",
      "STATE",
      "ACTIVE",
      "TOTAL",
      "FAILED",
      { header: "CAPACITY", align: "right" },
      "INSTANCE",
      "PID",
      "HEARTBEAT",
      "AGE",
    ],
    sorted.map((w) => [
      w.id,
      w.pool,
      w.role,
      w.state,
      w.activeConnections,
      w.totalConnections,
      w.failedHandoffs,
      w.capacity === 0 ? "-" : w.capacity,
      w.instance || "-",
      w.pid,
      formatAge(w.lastHeartbeatMs, now),
      w.registeredAtMs > 0 ? formatDuration(now - w.registeredAtMs, 1) : "-",
    ]),
  );
}

function routesTable(routes: readonly edgeV1.Route[]): string {
  return renderTable(
    ["NAME", "PORTS", "PROTOCOL", "MATCH", "ACTION", "TARGET", "ROLE", "SOURCE"],
    routes.map((r) => [
      r.name,
      formatList(r.ports),
      r.protocol || "-",
      matchText(r),
      r.action,
      r.target || "-",
      r.role || "-",
      r.source || "-",
    ]),
  );
}

/** `*.example.com /api from 10.0.0.0/8`, or `-` when the route matches on ports only. */
function matchText(route: edgeV1.Route): string {
  const parts = [
    route.domains.join(","),
    route.paths.join(","),
    route.clientIps.length > 0 ? `from ${route.clientIps.join(",")}` : "",
  ].filter((p) => p !== "");
  return parts.length > 0 ? parts.join(" ") : "-";
}

function statsText(stats: edgeV1.GetStatsResponse): string {
  const summary = `uptime ${formatDuration(stats.uptimeMs)}   connections pending ${stats.connectionsPending}   open fds ${stats.openFds}`;
  const routes =
    stats.routes.length === 0
      ? "no connections routed yet"
      : renderTable(
          [
            "ROUTE",
            "ACTIVE",
            "TOTAL",
            "REFUSED",
            { header: "BYTES IN", align: "right" },
            { header: "BYTES OUT", align: "right" },
          ],
          stats.routes.map((r) => [
            r.route,
            r.active,
            r.total,
            r.refused,
            formatBytes(r.bytesIn),
            formatBytes(r.bytesOut),
          ]),
        );
  const workers =
    stats.workers.length === 0
      ? "no workers attached"
      : renderTable(
          ["WORKER", "POOL", "ACTIVE", "TOTAL", "FAILED"],
          stats.workers.map((w) => [w.workerId, w.pool, w.active, w.total, w.failedHandoffs]),
        );
  return [summary, "", routes, "", workers].join("\n");
}
