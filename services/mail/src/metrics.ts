/** Every metric of the mail service: sessions and messages (MailMetrics), message authentication and AUTH limits (AuthMetrics), the relay queue (QueueMetrics). */
import { Counter, Gauge, type Registry } from "prom-client";

export type RejectReason =
  | "relay"
  | "unknown-user"
  | "too-many-recipients"
  | "size"
  | "bare-newline"
  | "sender"
  | "auth"
  | "deadline"
  | "command-timeout"
  | "esmtp-parameter"
  | "ip-limit"
  | "spool";

/** Sessions, messages accepted and refused by reason, bytes spooled. */
export class MailMetrics {
  private readonly sessions: Counter<"port">;
  private readonly active: Gauge;
  private readonly addresses: Gauge;
  private readonly accepted: Counter;
  private readonly rejected: Counter<"reason">;
  private readonly bytes: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sessions = new Counter({
      name: "switchyard_mail_sessions_total",
      help: "SMTP sessions started, by port role (smtp, submission, smtps)",
      labelNames: ["port"],
      registers,
    });
    this.active = new Gauge({
      name: "switchyard_mail_sessions_active",
      help: "Open SMTP sessions",
      registers,
    });
    this.addresses = new Gauge({
      name: "switchyard_mail_client_addresses",
      help: "Client addresses with at least one open SMTP session (entries of the per-address limit)",
      registers,
    });
    this.accepted = new Counter({
      name: "switchyard_mail_messages_accepted_total",
      help: "Messages answered 250 (fsynced into the Maildirs or the spool)",
      registers,
    });
    this.rejected = new Counter({
      name: "switchyard_mail_rejections_total",
      help: "Refused commands, messages and sessions, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.bytes = new Counter({
      name: "switchyard_mail_bytes_total",
      help: "Bytes of accepted messages written to disk (Maildirs or spool)",
      registers,
    });
  }

  sessionStarted(port: string): void {
    this.sessions.inc({ port });
    this.active.inc();
  }

  sessionEnded(): void {
    this.active.dec();
  }

  clientAddresses(count: number): void {
    this.addresses.set(count);
  }

  messageAccepted(bytes: number): void {
    this.accepted.inc();
    this.bytes.inc(bytes);
  }

  reject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }
}

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
