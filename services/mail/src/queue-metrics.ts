import { Counter, type Registry } from "prom-client";

/** The queue's counters: relay outcomes per recipient, bounces, recoveries, MTA-STS decisions. */
export class QueueMetrics {
  private readonly attempts: Counter<"outcome">;
  private readonly bounces: Counter;
  private readonly recovered: Counter<"kind">;
  private readonly mtaSts: Counter<"event">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.attempts = new Counter({
      name: "switchyard_mail_delivery_attempts_total",
      help: "Queue delivery attempts per recipient, by outcome (delivered, deferred, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.bounces = new Counter({
      name: "switchyard_mail_bounces_total",
      help: "Delivery status notifications (DSN) sent to senders",
      registers,
    });
    this.recovered = new Counter({
      name: "switchyard_mail_spool_recovered_total",
      help: "Spool entries of dead replicas: recovered (committed, delivered later) or dropped (half received)",
      labelNames: ["kind"],
      registers,
    });
    this.mtaSts = new Counter({
      name: "switchyard_mail_mta_sts_total",
      help: "MTA-STS decisions: enforced (verified TLS to a policy host), refused (host not in an enforced policy), report (testing mode mismatch)",
      labelNames: ["event"],
      registers,
    });
  }

  attempt(outcome: "delivered" | "deferred" | "failed", count: number): void {
    this.attempts.inc({ outcome }, count);
  }

  bounce(): void {
    this.bounces.inc();
  }

  recovery(recovered: number, dropped: number): void {
    if (recovered > 0) this.recovered.inc({ kind: "recovered" }, recovered);
    if (dropped > 0) this.recovered.inc({ kind: "dropped" }, dropped);
  }

  mtaStsEvent(event: "enforced" | "report" | "refused"): void {
    this.mtaSts.inc({ event });
  }
}
