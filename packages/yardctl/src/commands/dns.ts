/** DNS commands over DnsAdmin: zones, records, upsert, delete, ds, rollover. */
import { dnsV1 } from "@switchyard/proto";
import type { Command, CommandContext, CommandGroup } from "../command.js";
import { UsageError } from "../errors.js";
import { renderTable } from "../table.js";

const DnsAdmin = dnsV1.DnsAdminClient;

/** A rollover status as the operator reads it: the keys, then what to wait for. */
export function renderRolloverStatus(s: dnsV1.RolloverStatus): string {
  const table = renderTable(
    [{ header: "KEY TAG", align: "right" }, "STATE", "SINCE", "CDS", "DS"],
    s.keys.map((k) => [k.keyTag, k.state, k.since, k.inCds ? "yes" : "-", k.ds]),
  );
  return [
    `zone ${s.zone} (${s.algorithm}): ${s.phase}, DNSKEY TTL ${s.dnskeyTtl} s, key entry revision ${s.revision}`,
    table,
    `waiting for: ${s.waitingFor}`,
    ...(s.readyAt ? [`next step allowed from: ${s.readyAt}`] : []),
    ...s.parentDs.map(
      (p) =>
        `parent DS: ${p.ds} -> ${p.keyState === "unknown" ? "no key of the zone" : `the ${p.keyState} key`}`,
    ),
    ...(s.parentError ? [`parent DS: ${s.parentError}`] : []),
  ].join("\n");
}

const forceOption = {
  force: { type: "boolean", description: "take the step although its wait is not over" },
} as const;

function rolloverStep(
  step: "start" | "finish" | "cleanup",
  method: "startRollover" | "finishRollover" | "cleanupRollover",
  summary: string,
  withForce: boolean,
): Command {
  return {
    name: `dns rollover ${step}`,
    args: ["zone"],
    summary,
    ...(withForce ? { options: forceOption } : {}),
    async run(ctx: CommandContext) {
      const response = await ctx.call("dns", DnsAdmin, method, {
        zone: ctx.args.zone ?? "",
        force: ctx.options.force === true,
      });
      ctx.print(response, () => renderRolloverStatus(response));
      return 0;
    },
  };
}

export const dnsCommands: CommandGroup = {
  title: "DNS",
  commands: [
    {
      name: "dns zones",
      summary: "list the zones a dns replica serves: origin, SOA serial, records, file",
      async run(ctx) {
        const response = await ctx.call("dns", DnsAdmin, "listZones", {});
        ctx.print(response, () =>
          response.zones.length === 0
            ? "no zones served"
            : renderTable(
                ["ORIGIN", "SERIAL", "RECORDS", "FILE"],
                response.zones.map((z) => [z.origin, z.serial, z.recordCount, z.file || "-"]),
              ),
        );
        return 0;
      },
    },
    {
      name: "dns records",
      args: ["zone"],
      summary: "list a zone's records with where each comes from (config, api, acme)",
      async run(ctx) {
        const response = await ctx.call("dns", DnsAdmin, "listRecords", { zone: ctx.args.zone ?? "" });
        ctx.print(response, () =>
          renderTable(
            ["NAME", "TYPE", { header: "TTL", align: "right" }, "VALUE", "SOURCE"],
            response.records.map((r) => [r.name, r.type, r.ttl, r.value, r.source || "-"]),
          ),
        );
        return 0;
      },
    },
    {
      name: "dns upsert",
      args: ["name", "type", "ttl", "value..."],
      summary: "add a record (or change its TTL) on every replica, through NATS KV; names absolute",
      async run(ctx) {
        const ttl = ctx.args.ttl ?? "";
        if (!/^\d+$/.test(ttl)) throw new UsageError(`ttl ${JSON.stringify(ttl)} is not a number of seconds`);
        const response = await ctx.call("dns", DnsAdmin, "upsertRecord", {
          name: ctx.args.name ?? "",
          type: (ctx.args.type ?? "").toUpperCase(),
          ttl: Number(ttl),
          value: ctx.args.value ?? "",
        });
        const r = response.record;
        ctx.print(
          response,
          () =>
            `${r?.name} ${r?.ttl} ${r?.type} ${r?.value} set in zone ${response.zone} (revision ${response.revision})`,
        );
        return 0;
      },
    },
    {
      name: "dns delete",
      args: ["name", "type", "value?"],
      summary: "remove a dynamic record, or without a value every dynamic record of that name and type",
      async run(ctx) {
        const name = ctx.args.name ?? "";
        const type = (ctx.args.type ?? "").toUpperCase();
        const response = await ctx.call("dns", DnsAdmin, "deleteRecord", {
          name,
          type,
          value: ctx.args.value ?? "",
        });
        ctx.print(
          response,
          () => `deleted ${response.deleted} ${type} record${response.deleted === 1 ? "" : "s"} at ${name}`,
        );
        return 0;
      },
    },
    {
      name: "dns ds",
      args: ["zone"],
      summary: "print the DS record of a signed zone, for its parent (registrar), and its DNSKEY",
      async run(ctx) {
        const response = await ctx.call("dns", DnsAdmin, "getDs", { zone: ctx.args.zone ?? "" });
        ctx.print(response, () => `${response.ds}\n; ${response.dnskey}`);
        return 0;
      },
    },
    rolloverStep(
      "start",
      "startRollover",
      "CSK rollover: publish a new key beside the old (DNSKEY signed by both, CDS/CDNSKEY of the new)",
      false,
    ),
    {
      name: "dns rollover status",
      args: ["zone"],
      summary: "a signed zone's keys (tag, state, since, DS) and what its rollover waits for",
      options: {
        parent: {
          type: "string",
          value: "SERVER",
          description: "ask SERVER (host[:port]: the parent's server or a resolver) for the zone's DS",
        },
      },
      async run(ctx) {
        const parent = typeof ctx.options.parent === "string" ? ctx.options.parent : "";
        const response = await ctx.call("dns", DnsAdmin, "getRolloverStatus", {
          zone: ctx.args.zone ?? "",
          parent,
        });
        ctx.print(response, () => renderRolloverStatus(response));
        return 0;
      },
    },
    rolloverStep(
      "finish",
      "finishRollover",
      "sign answers with the new key (refused before the DNSKEY TTL since start, unless --force)",
      true,
    ),
    rolloverStep(
      "cleanup",
      "cleanupRollover",
      "remove the retired key from DNSKEY (automatic once due; before that only with --force)",
      true,
    ),
  ],
};
