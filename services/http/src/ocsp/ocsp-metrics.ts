import { Counter, Gauge, type Registry } from "prom-client";
import type { OcspFailure } from "../errors.js";

/** What the scrape reads of the staples held now. */
export interface StapleView {
  name: string;
  serial: string;
  status: "good" | "revoked";
  thisUpdate: number;
}

/** OCSP stapling: the age of each staple held, fetches that failed (by why), responses fetched, staples sent. */
export class OcspMetrics {
  private readonly fetchErrors: Counter<"reason">;
  private readonly responses: Counter<"status">;
  readonly staples: Counter;
  /** The staples held now (set by the stapler). */
  held: () => StapleView[] = () => [];

  constructor(registry: Registry, now: () => number = Date.now) {
    const registers = [registry];
    const view = () => this.held();
    new Gauge({
      name: "switchyard_http_ocsp_staple_age_seconds",
      help: "Age (now − thisUpdate) of the OCSP response stapled for a certificate, by name, serial and status",
      labelNames: ["name", "serial", "status"],
      registers,
      collect() {
        this.reset();
        const at = now();
        for (const s of view()) this.labels(s.name, s.serial, s.status).set((at - s.thisUpdate) / 1000);
      },
    });
    this.fetchErrors = new Counter({
      name: "switchyard_http_ocsp_fetch_errors_total",
      help: "OCSP fetches that brought no usable response, by reason (connect, timeout, http-status, signature, …)",
      labelNames: ["reason"],
      registers,
    });
    this.responses = new Counter({
      name: "switchyard_http_ocsp_responses_total",
      help: "Verified OCSP responses fetched, by the status they give the certificate (good, revoked)",
      labelNames: ["status"],
      registers,
    });
    this.staples = new Counter({
      name: "switchyard_http_ocsp_staples_total",
      help: "TLS handshakes that asked for certificate status and got a stapled OCSP response",
      registers,
    });
  }

  fetchFailed(reason: OcspFailure): void {
    this.fetchErrors.labels(reason).inc();
  }

  fetched(status: "good" | "revoked"): void {
    this.responses.labels(status).inc();
  }
}
