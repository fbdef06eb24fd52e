import { readFile } from "node:fs/promises";
import type { firewallV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import type { Ban } from "./bans/ban-book.js";
import { BanError, NftError, RulesetInputError } from "./errors.js";
import { errorText, type FirewallAgent } from "./firewall-agent.js";
import type { FirewallMetrics } from "./metrics.js";
import type { NftRunner } from "./nft/nft-runner.js";
import { FAMILY, TABLE } from "./ruleset/render.js";
import type { Ruleset } from "./ruleset/ruleset.js";

export interface FirewallAdminDeps {
  agent: FirewallAgent;
  nft: NftRunner;
  metrics: FirewallMetrics;
  /** Reads a /proc file (tests point it elsewhere). */
  readProc?: (path: string) => Promise<string>;
}

function banMessage(ban: Ban): firewallV1.Ban {
  return {
    address: ban.network.text,
    untilMs: ban.until,
    reason: ban.reason,
    source: ban.source,
    createdAtMs: ban.createdAt,
  };
}

/** Forwarding is a host setting the agent does not change; it says when a DNAT route needs it off. */
async function forwardingWarnings(ruleset: Ruleset | undefined, read: (path: string) => Promise<string>) {
  const warnings: string[] = [];
  const families = new Set(ruleset?.routes.flatMap((r) => (r.target ? [r.target.address.family] : [])) ?? []);
  const files = { 4: "/proc/sys/net/ipv4/ip_forward", 6: "/proc/sys/net/ipv6/conf/all/forwarding" } as const;
  for (const family of families) {
    const value = await read(files[family]).catch(() => "");
    if (value.trim() === "0")
      warnings.push(
        `IPv${family} forwarding is off (${files[family]} = 0): DNAT routes to other hosts cannot reach them`,
      );
  }
  return warnings;
}

/** FirewallAdmin: status, dry run, bans. */
export function createFirewallAdmin(
  deps: FirewallAdminDeps,
): ServiceImplementation<firewallV1.FirewallAdminService> {
  const { agent, nft, metrics } = deps;
  const read = deps.readProc ?? ((path: string) => readFile(path, "utf8"));
  const toStatus = (error: unknown) => {
    if (error instanceof RulesetInputError)
      return grpcError(status.INVALID_ARGUMENT, error.message, { cause: error });
    if (error instanceof BanError)
      return grpcError(status.FAILED_PRECONDITION, error.message, { cause: error });
    if (error instanceof NftError) return grpcError(status.INTERNAL, error.message, { cause: error });
    return error;
  };
  return {
    async status() {
      const state = await agent.state().catch((error: unknown) => {
        throw grpcError(status.INTERNAL, `cannot read table ${FAMILY} ${TABLE}: ${errorText(error)}`);
      });
      const ruleset = agent.current;
      const last = agent.lastApply;
      return {
        table: `${FAMILY} ${TABLE}`,
        present: state !== null,
        rules: state?.rules ?? 0,
        sets: (state?.sets ?? []).map((s) => ({ ...s })),
        counters: (state?.counters ?? []).map((c) => {
          const route = /^route_(\d+)$/.exec(c.name);
          const name = route ? `route ${ruleset?.routes[Number(route[1])]?.name ?? route[1]}` : c.name;
          return { name, packets: c.packets, bytes: c.bytes };
        }),
        lastApply: last ? { ...last } : undefined,
        lastGoodApplyMs: agent.lastGoodApplyMs,
        resyncs: agent.resyncs,
        reconcileFailures: agent.reconcileFailures,
        driftEvents: agent.driftEvents.map((e) => ({ ...e })),
        bansActive: agent.book.size,
        warnings: await forwardingWarnings(ruleset, read),
        routes: ruleset?.routes.map((r) => r.name) ?? [],
      };
    },
    async render(request) {
      let text: string;
      try {
        text = agent.render();
      } catch (error) {
        throw grpcError(status.FAILED_PRECONDITION, errorText(error));
      }
      if (!request.check) return { ruleset: text, checked: false, checkError: "" };
      const checkError = await nft.check(text).then(
        () => "",
        (error: unknown) => errorText(error),
      );
      return { ruleset: text, checked: true, checkError };
    },
    async ban(request) {
      try {
        const ban = await agent.ban({
          address: request.address,
          seconds: request.seconds > 0 ? request.seconds : undefined,
          reason: request.reason,
          source: "grpc",
        });
        return { ban: banMessage(ban) };
      } catch (error) {
        metrics.banRejections.inc({ reason: error instanceof BanError ? "refused" : "bad_address" });
        throw toStatus(error);
      }
    },
    async unban(request) {
      let ban: Ban | undefined;
      try {
        ban = await agent.unban(request.address);
      } catch (error) {
        throw toStatus(error);
      }
      if (!ban) throw grpcError(status.NOT_FOUND, `${request.address} is not banned`);
      return { ban: banMessage(ban) };
    },
    listBans() {
      return { bans: agent.book.list().map(banMessage) };
    },
  };
}
