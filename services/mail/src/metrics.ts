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
