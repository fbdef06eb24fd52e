/** Firewall commands over FirewallAdmin (the nftables agent): status, render, ban, unban, bans. */
import { firewallV1 } from "@switchyard/proto";
import type { CommandGroup } from "../command.js";
import { CliError, UsageError } from "../errors.js";
import { formatAge, formatBytes, formatDuration, renderTable } from "../table.js";

const FirewallAdmin = firewallV1.FirewallAdminClient;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90`, `90s`, `30m`, `1h`, `2d`, `1w`, or a sum such as `1h30m` → seconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+)([smhdw]?)/g)];
  if (!/^(\d+[smhdw]?)+$/.test(text) || parts.length === 0) {
    throw new UsageError(`--for: ${JSON.stringify(text)} is not a duration (e.g. 90s, 30m, 1h, 2d)`);
  }
  const seconds = parts.reduce((sum, m) => sum + Number(m[1]) * (UNITS[m[2] || "s"] ?? 1), 0);
  if (seconds < 1 || seconds > 4_294_967_295) throw new UsageError(`--for: ${text} is out of range`);
  return seconds;
}

export const firewallCommands: CommandGroup = {
  title: "Firewall (nftables agent)",
  commands: [
    {
      name: "firewall status",
      summary: "table inet switchyard: sets and sizes, counters, last apply, drift events, warnings",
      async run(ctx) {
        const response = await ctx.call("firewall", FirewallAdmin, "status", {});
        ctx.print(response, () => statusText(response, ctx.now()));
        return 0;
      },
    },
    {
      name: "firewall render",
      summary: "print the nft file the agent would apply now (dry run; --check also runs nft -c)",
      options: { check: { type: "boolean", description: "check the ruleset against the kernel (nft -c)" } },
      async run(ctx) {
        const response = await ctx.call("firewall", FirewallAdmin, "render", {
          check: ctx.options.check === true,
        });
        ctx.print(response, () =>
          response.checked
            ? `${response.ruleset}# nft -c: ${response.checkError ? `refused: ${response.checkError}` : "ok"}`
            : response.ruleset.trimEnd(),
        );
        return response.checkError ? 1 : 0;
      },
    },
    {
      name: "firewall ban",
      args: ["address"],
      summary: "drop every packet from an address or network (--for 1h; default from the config)",
      options: {
        for: { type: "string", value: "DURATION", description: "how long: 90s, 30m, 1h, 2d" },
        reason: { type: "string", value: "TEXT", description: "why, kept with the ban" },
      },
      async run(ctx) {
        const seconds = typeof ctx.options.for === "string" ? parseDuration(ctx.options.for) : 0;
        const reason = typeof ctx.options.reason === "string" ? ctx.options.reason : "yardctl";
        const { ban } = await ctx.call("firewall", FirewallAdmin, "ban", {
          address: ctx.args.address ?? "",
          seconds,
          reason,
        });
        if (!ban) throw new CliError("the agent answered without the ban");
        ctx.print({ ban }, () => `banned ${ban.address} for ${formatDuration(ban.untilMs - ctx.now())}`);
        return 0;
      },
    },
    {
      name: "firewall unban",
      args: ["address"],
      summary: "lift a ban",
      async run(ctx) {
        const { ban } = await ctx.call("firewall", FirewallAdmin, "unban", {
          address: ctx.args.address ?? "",
        });
        ctx.print({ ban }, () => `unbanned ${ban?.address ?? ctx.args.address}`);
        return 0;
      },
    },
    {
      name: "firewall bans",
      summary: "list the bans in force with their time left",
      async run(ctx) {
        const response = await ctx.call("firewall", FirewallAdmin, "listBans", {});
        ctx.print(response, () =>
          response.bans.length === 0
            ? "no bans"
            : renderTable(
                ["ADDRESS", "LEFT", "SOURCE", "REASON", "SINCE"],
                response.bans.map((b) => [
                  b.address,
                  formatDuration(Math.max(0, b.untilMs - ctx.now())),
                  b.source || "-",
                  b.reason || "-",
                  b.createdAtMs > 0 ? formatAge(b.createdAtMs, ctx.now()) : "-",
                ]),
              ),
        );
        return 0;
      },
    },
  ],
};

function statusText(s: firewallV1.StatusResponse, now: number): string {
  const last = s.lastApply;
  const lines = [
    `table ${s.table}: ${s.present ? `present, ${s.rules} rules` : "MISSING (the next check restores it)"}`,
    last
      ? `last apply: ${last.reason} ${formatAge(last.atMs, now)} ${last.ok ? "ok" : `REFUSED: ${last.error}`}`
      : "last apply: none",
    `bans in force ${s.bansActive}   drift restored ${s.resyncs}   reconcile failures ${s.reconcileFailures}`,
    `routes (kernel DNAT): ${s.routes.length > 0 ? s.routes.join(", ") : "none"}`,
  ];
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  const sets = renderTable(
    ["SET", "TYPE", "FLAGS", { header: "ELEMENTS", align: "right" }],
    s.sets.map((x) => [x.name, x.type, x.flags.join(",") || "-", x.elements]),
  );
  const counters = renderTable(
    ["COUNTER", { header: "PACKETS", align: "right" }, { header: "BYTES", align: "right" }],
    s.counters.map((c) => [c.name, c.packets, formatBytes(c.bytes)]),
  );
  const drift =
    s.driftEvents.length === 0
      ? "no drift seen"
      : renderTable(
          ["DRIFT", "WHEN", "RESTORED"],
          s.driftEvents.map((e) => [e.kind, formatAge(e.atMs, now), e.restored ? "yes" : `no: ${e.error}`]),
        );
  return [...lines, "", sets, "", counters, "", drift].join("\n");
}
