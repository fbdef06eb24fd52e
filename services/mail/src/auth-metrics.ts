import { Counter, Gauge, type Registry } from "prom-client";

/** Counters of message authentication: inbound checks, DMARC dispositions, DKIM signing, AUTH limits. */
export class AuthMetrics {
  private readonly checks: Counter<"check" | "result">;
  private readonly dispositions: Counter<"disposition">;
  private readonly signed: Counter<"domain">;
  private readonly authFailures: Counter;
  private readonly authBlocked: Counter;
  private readonly bans: Counter<"outcome">;
  private readonly limitedIps: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.checks = new Counter({
      name: "switchyard_mail_inbound_checks_total",
      help: "Inbound messages checked on port 25, by check (spf, dkim, dmarc, arc) and result",
      labelNames: ["check", "result"],
      registers,
    });
    this.dispositions = new Counter({
      name: "switchyard_mail_dmarc_dispositions_total",
      help: "What a DMARC failure led to: none (delivered), quarantine (delivered, recorded), reject (550)",
      labelNames: ["disposition"],
      registers,
    });
    this.signed = new Counter({
      name: "switchyard_mail_dkim_signed_total",
      help: "Submitted messages DKIM-signed, by signing domain",
      labelNames: ["domain"],
      registers,
    });
    this.authFailures = new Counter({
      name: "switchyard_mail_auth_failures_total",
      help: "AUTH attempts with wrong credentials",
      registers,
    });
    this.authBlocked = new Counter({
      name: "switchyard_mail_auth_blocked_total",
      help: "AUTH attempts refused because the client IP passed the failure limit",
      registers,
    });
    this.bans = new Counter({
      name: "switchyard_mail_ban_requests_total",
      help: "firewall.ban messages for client IPs past the AUTH failure limit, by outcome (published, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.limitedIps = new Gauge({
      name: "switchyard_mail_auth_limited_ips",
      help: "Client IPs with AUTH failures counted in the current window",
      registers,
    });
  }

  checked(check: "spf" | "dkim" | "dmarc" | "arc", result: string): void {
    this.checks.inc({ check, result });
  }

  dmarcDisposition(disposition: "none" | "quarantine" | "reject"): void {
    this.dispositions.inc({ disposition });
  }

  dkimSigned(domain: string): void {
    this.signed.inc({ domain });
  }

  authFailed(): void {
    this.authFailures.inc();
  }

  authRefused(): void {
    this.authBlocked.inc();
  }

  banRequested(outcome: "published" | "failed"): void {
    this.bans.inc({ outcome });
  }

  trackedIps(count: number): void {
    this.limitedIps.set(count);
  }
}
