import { Counter, Gauge, type Registry } from "prom-client";

export type ApplyReason = "start" | "reload" | "drift";

/** The agent's counters: applies, drift and its repair, bans. */
export class FirewallMetrics {
  readonly applies: Counter<"reason" | "result">;
  readonly driftEvents: Counter<"kind">;
  readonly resyncs: Counter;
  readonly reconcileFailures: Counter;
  readonly bansAdded: Counter<"source">;
  readonly banRejections: Counter<"reason">;
  readonly bansActive: Gauge;
  readonly lastApplyOk: Gauge;
  readonly lastApplyTime: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.applies = new Counter({
      name: "switchyard_firewall_applies_total",
      help: "Whole-table applies, by why (start, reload, drift) and outcome (ok, refused)",
      labelNames: ["reason", "result"],
      registers,
    });
    this.driftEvents = new Counter({
      name: "switchyard_firewall_drift_events_total",
      help: "Times the kernel's table differed from what the agent applied (missing, changed, bans)",
      labelNames: ["kind"],
      registers,
    });
    this.resyncs = new Counter({
      name: "switchyard_firewall_resyncs_total",
      help: "Drifted tables restored",
      registers,
    });
    this.reconcileFailures = new Counter({
      name: "switchyard_firewall_reconcile_failures_total",
      help: "Reconcile rounds that could not read or restore the table",
      registers,
    });
    this.bansAdded = new Counter({
      name: "switchyard_firewall_bans_total",
      help: "Bans added or extended, by where they came from (nats, grpc, or the service named in the message)",
      labelNames: ["source"],
      registers,
    });
    this.banRejections = new Counter({
      name: "switchyard_firewall_ban_rejections_total",
      help: "Ban requests refused (invalid message, bad address, trusted address, nft refused)",
      labelNames: ["reason"],
      registers,
    });
    this.bansActive = new Gauge({
      name: "switchyard_firewall_bans_active",
      help: "Bans in force",
      registers,
    });
    this.lastApplyOk = new Gauge({
      name: "switchyard_firewall_last_apply_ok",
      help: "1 when the last whole-table apply was taken by the kernel, 0 when it was refused",
      registers,
    });
    this.lastApplyTime = new Gauge({
      name: "switchyard_firewall_last_apply_timestamp_seconds",
      help: "When the last whole-table apply was attempted",
      registers,
    });
  }
}
