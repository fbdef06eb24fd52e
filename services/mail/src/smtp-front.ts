import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import type { AddressPolicy } from "./address-policy.js";
import type { AuthGuard } from "./auth-guard.js";
import { BareNewlineGuard } from "./bare-newline-guard.js";
import { SmtpReply } from "./errors.js";
import { isAuthenticated, type MessageReview, takeMessage } from "./message-intake.js";
import type { MailMetrics } from "./metrics.js";
import { verifyPassword } from "./password-hash.js";
import { connectSocket, type SmtpConnectionHandle, setDefaultSecureContext } from "./smtp-internals.js";
import type { Spool } from "./spool.js";

/** Which behaviour a handed-off connection gets, by the edge route it came in on. */
export type PortRole = "smtp" | "submission" | "smtps";
export const roleByRoute: Record<string, PortRole> = {
  "mail-smtp": "smtp",
  "mail-submission": "submission",
  "mail-smtps": "smtps",
};

export interface SmtpFrontDeps {
  mail: MailSection;
  policy: AddressPolicy;
  spool: Spool;
  /** The delivery queue, told when a message waits in it. */
  queue?: { kick(): void };
  metrics: MailMetrics;
  logger: Logger;
  tls: { key: string | Buffer; cert: string | Buffer };
  /** Certificates by SNI (from the certs service); an undefined context falls back to the default. */
  SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /** What looks at whole messages per port: verification on smtp, DKIM signing on submission/smtps. */
  reviews?: Partial<Record<PortRole, MessageReview>>;
  /** AUTH failure limits per client IP (and `firewall.ban`). */
  authGuard?: AuthGuard;
}

interface SessionState {
  role: PortRole;
  remote: string;
  overIpLimit: boolean;
}

/**
 * One smtp-server per port role, fed sockets the edge handed off: port 25 (STARTTLS, no AUTH, our
 * recipients only), 587 (AUTH after STARTTLS), 465 (implicit TLS, AUTH). Policy lives in the hooks;
 * bare CR/LF are refused before smtp-server parses anything; every session has a hard deadline.
 */
export class SmtpFront {
  private readonly servers: Record<PortRole, SMTPServer>;
  private readonly states = new Map<string, SessionState>();
  private readonly perIp = new Map<string, number>();
  private readonly open = new Set<Socket>();

  constructor(private readonly deps: SmtpFrontDeps) {
    const { mail, tls } = deps;
    const common: SMTPServerOptions & Record<string, unknown> = {
      name: mail.hostname,
      banner: "Switchyard ESMTP",
      key: tls.key,
      cert: tls.cert,
      ...(deps.SNICallback ? { SNICallback: deps.SNICallback } : {}),
      size: mail.limits.maxMessageBytes,
      rejectOversized: true,
      maxCommandLength: mail.limits.maxLineLength,
      disableReverseLookup: true,
      socketTimeout: Math.min(60_000, mail.limits.sessionTimeoutMs),
      logger: false,
      authMethods: ["PLAIN", "LOGIN"],
      onConnect: (session, cb) => this.onConnect(session, cb),
      onMailFrom: (address, session, cb) => this.onMailFrom(address.address, session, cb),
      onRcptTo: (address, session, cb) => this.onRcptTo(address.address, session, cb),
      onAuth: (auth, session, cb) => {
        this.onAuth(auth.username ?? "", auth.password ?? "", session).then(
          (user) => cb(null, { user }),
          (err: Error) => cb(err),
        );
      },
      onData: (stream, session, cb) => {
        const state = this.states.get(session.id);
        const review = state ? deps.reviews?.[state.role] : undefined;
        takeMessage(
          { ...deps, hostname: mail.hostname, review },
          stream,
          session,
          state?.remote ?? "unknown",
        ).then(
          (reply) => cb(null, reply),
          (err: Error) => cb(err),
        );
      },
      onClose: (session) => this.states.delete(session.id),
    };
    this.servers = {
      smtp: new SMTPServer({ ...common, disabledCommands: ["AUTH"], authOptional: true }),
      submission: new SMTPServer({ ...common }),
      smtps: new SMTPServer({ ...common, secure: true, needsUpgrade: true }),
    };
  }

  /** Adopts a handed-off connection; `route` says which port it came in on. */
  handle(
    socket: Socket,
    route: string,
    remote: { address: string; port: number },
    local: { address: string; port: number },
  ): void {
    const role = roleByRoute[route];
    if (!role) {
      this.deps.logger.warn({ route }, "connection from a route that is not mail; closing");
      socket.destroy();
      return;
    }
    socket.on("error", () => {});
    const { limits } = this.deps.mail;
    const count = (this.perIp.get(remote.address) ?? 0) + 1;
    this.perIp.set(remote.address, count);
    this.open.add(socket);
    this.deps.metrics.sessionStarted(role);
    let handle: SmtpConnectionHandle | undefined;
    const deadline = setTimeout(() => {
      this.deps.metrics.reject("deadline");
      handle?.refuseAndClose(421, `4.4.2 ${this.deps.mail.hostname} session time limit reached, closing`);
    }, limits.sessionTimeoutMs);
    socket.once("close", () => {
      clearTimeout(deadline);
      this.open.delete(socket);
      const left = (this.perIp.get(remote.address) ?? 1) - 1;
      if (left > 0) this.perIp.set(remote.address, left);
      else this.perIp.delete(remote.address);
      this.deps.metrics.sessionEnded();
    });
    handle = connectSocket(this.servers[role], socket, {
      remoteAddress: remote.address,
      remotePort: remote.port,
      localAddress: local.address,
      localPort: local.port,
      inspect: () => {
        const guard = new BareNewlineGuard();
        let poisoned = false;
        return (chunk) => {
          if (poisoned) return false;
          if (guard.accept(chunk)) return true;
          poisoned = true;
          this.deps.metrics.reject("bare-newline");
          handle?.refuseAndClose(550, "5.5.2 Bare CR or LF received (only CRLF ends a line); closing");
          return false;
        };
      },
    });
    this.states.set(handle.id, {
      role,
      remote: remote.address,
      overIpLimit: limits.maxConnectionsPerIp > 0 && count > limits.maxConnectionsPerIp,
    });
  }

  private onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.states.get(session.id)?.overIpLimit) {
      this.deps.metrics.reject("ip-limit");
      cb(new SmtpReply(421, "4.7.0 Too many connections from your address, try later"));
      return;
    }
    cb();
  }

  private onMailFrom(from: string, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const role = this.states.get(session.id)?.role;
    if (role !== "smtp") {
      const user = typeof session.user === "string" ? session.user : "";
      if (!user || !this.deps.policy.maySendAs(user, from)) {
        this.deps.metrics.reject("sender");
        cb(new SmtpReply(553, `5.7.1 Sender address not owned by ${user || "you"}`));
        return;
      }
    }
    cb();
  }

  private onRcptTo(to: string, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (session.envelope.rcptTo.length >= this.deps.mail.limits.maxRecipients) {
      this.deps.metrics.reject("too-many-recipients");
      cb(new SmtpReply(452, "4.5.3 Too many recipients"));
      return;
    }
    const verdict = this.deps.policy.recipient(to, { authenticated: isAuthenticated(session) });
    if (verdict.ok) {
      cb();
      return;
    }
    this.deps.metrics.reject(
      verdict.code === 550 && verdict.message.startsWith("5.1.1") ? "unknown-user" : "relay",
    );
    cb(new SmtpReply(verdict.code, verdict.message));
  }

  private async onAuth(username: string, password: string, session: SMTPServerSession): Promise<string> {
    const ip = this.states.get(session.id)?.remote ?? "unknown";
    this.deps.authGuard?.before(ip, session.id);
    const address = username.toLowerCase();
    const box = this.deps.mail.mailboxes.find((b) => b.address === address);
    if (box?.passwordHash && (await verifyPassword(password, box.passwordHash))) return address;
    this.deps.metrics.reject("auth");
    this.deps.logger.info({ session: session.id, username: address.slice(0, 100) }, "authentication failed");
    throw (
      this.deps.authGuard?.failed(ip, session.id) ??
      new SmtpReply(535, "5.7.8 Authentication credentials invalid")
    );
  }

  /** Stops every server and ends the open sessions (after `graceMs`, they are destroyed). */
  async close(graceMs = 2000): Promise<void> {
    for (const server of Object.values(this.servers)) server.close();
    const until = Date.now() + graceMs;
    while (this.open.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const socket of this.open) socket.destroy();
  }

  /** The certificate for clients without SNI, on every port, for the next TLS handshake. */
  useDefaultContext(context: SecureContext): void {
    for (const server of Object.values(this.servers)) setDefaultSecureContext(server, context);
  }

  get activeSessions(): number {
    return this.open.size;
  }
}
