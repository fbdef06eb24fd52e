import { Counter, Gauge, type Registry } from "prom-client";

const DAY = 86_400_000;
const bands = ["expired", "lt7d", "lt30d", "ge30d"] as const;

/** Certificates by days to expiry, orders by outcome, ACME errors by problem type. */
export class CertsMetrics {
  private readonly daysLeft: Gauge<"name">;
  private readonly byBand: Gauge<"expires_in">;
  private readonly orders: Counter<"outcome" | "issuer">;
  private readonly acmeErrors: Counter<"type">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.daysLeft = new Gauge({
      name: "switchyard_certs_days_to_expiry",
      help: "Days until the stored certificate of each configured name expires (negative: expired)",
      labelNames: ["name"],
      registers,
    });
    this.byBand = new Gauge({
      name: "switchyard_certs_certificates",
      help: "Stored certificates by days to expiry: expired, lt7d, lt30d, ge30d",
      labelNames: ["expires_in"],
      registers,
    });
    this.orders = new Counter({
      name: "switchyard_certs_orders_total",
      help: "Certificate orders run by this replica, by outcome (issued, failed) and issuer (acme, internal)",
      labelNames: ["outcome", "issuer"],
      registers,
    });
    this.acmeErrors = new Counter({
      name: "switchyard_certs_acme_errors_total",
      help: "ACME requests the CA answered with an error, by problem type (badNonce included)",
      labelNames: ["type"],
      registers,
    });
  }

  /** Replaces the expiry gauges with these certificates' notAfter (name → ms). */
  expiries(notAfter: Map<string, number>, now = Date.now()): void {
    this.daysLeft.reset();
    const counts = Object.fromEntries(bands.map((b) => [b, 0])) as Record<(typeof bands)[number], number>;
    for (const [name, at] of notAfter) {
      const days = (at - now) / DAY;
      this.daysLeft.set({ name }, Math.round(days * 100) / 100);
      counts[days <= 0 ? "expired" : days < 7 ? "lt7d" : days < 30 ? "lt30d" : "ge30d"]++;
    }
    for (const band of bands) this.byBand.set({ expires_in: band }, counts[band]);
  }

  order(outcome: "issued" | "failed", issuer: "acme" | "internal"): void {
    this.orders.inc({ outcome, issuer });
  }

  acmeError(type: string): void {
    this.acmeErrors.inc({ type: type.replace(/^urn:ietf:params:acme:error:/, "") });
  }
}
