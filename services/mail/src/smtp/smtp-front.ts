import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import { isMailRole, type MailRole, type MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import type { AuthGuard } from "../auth/auth-guard.js";
import { CredentialCheck, type PasswordVerifier } from "../auth/credential-check.js";
import { SmtpReply } from "../errors.js";
import { isAuthenticated, type MessageReview, takeMessage } from "../intake/message-intake.js";
import type { MailMetrics } from "../metrics.js";
import type { Spool } from "../spool/spool.js";
import type { AddressPolicy } from "./address-policy.js";
import { BareNewlineGuard } from "./bare-newline-guard.js";
import { unknownParameter, unknownParameterText } from "./esmtp-parameters.js";
import { SessionSlots, type SlotTimer } from "./session-slots.js";
import { connectSocket, type SmtpConnectionHandle, setDefaultSecureContext } from "./smtp-internals.js";

/** Which behaviour a handed-off connection gets: the role of the edge route it came in on. */
export type PortRole = MailRole;

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
  /** The password check (scrypt by default); tests pass a spy. */
  verifyPassword?: PasswordVerifier;
}

interface SessionState {
  role: PortRole;
  remote: string;
  overIpLimit: boolean;
  /** The command deadline: held while a received message is being reviewed and stored. */
  lineDeadline: SlotTimer;
}

const LF = 0x0a;

/** The limits smtp-server enforces itself, from the mail section. */
function serverLimits(mail: MailSection): Pick<SMTPServerOptions, "size" | "socketTimeout"> & {
  maxCommandLength: number;
} {
  return {
    size: mail.limits.maxMessageBytes,
    maxCommandLength: mail.limits.maxLineLength,
    // Our command deadline answers first; smtp-server's idle timer is only the backstop.
    socketTimeout: mail.limits.commandTimeoutMs + 5000,
  };
}

/**
 * One smtp-server per port role, fed sockets the edge handed off: port 25 (STARTTLS, no AUTH, our
 * recipients only), 587 (AUTH offered only after STARTTLS), 465 (implicit TLS, AUTH). Policy lives
 * in the hooks; bare CR/LF are refused before smtp-server parses anything; every session has a hard
 * deadline and every command line a deadline of its own that dribbled bytes do not restart.
 */
export class SmtpFront {
  private readonly servers: Record<PortRole, SMTPServer>;
  private readonly states = new Map<string, SessionState>();
  private readonly slots: SessionSlots;
  private credentials: CredentialCheck;
  private deps: SmtpFrontDeps;

  constructor(deps: SmtpFrontDeps) {
    this.deps = deps;
    const { mail, tls } = deps;
    this.slots = new SessionSlots(mail.limits.maxConnectionsPerIp, deps.metrics);
    this.credentials = new CredentialCheck(mail.mailboxes, deps.verifyPassword);
    const common: SMTPServerOptions & Record<string, unknown> = {
      name: mail.hostname,
      banner: "Switchyard ESMTP",
      key: tls.key,
      cert: tls.cert,
      ...(deps.SNICallback ? { SNICallback: deps.SNICallback } : {}),
      ...serverLimits(mail),
      rejectOversized: true,
      disableReverseLookup: true,
      logger: false,
      authMethods: ["PLAIN", "LOGIN"],
      onConnect: (session, cb) => this.onConnect(session, cb),
      onMailFrom: (address, session, cb) => this.onMailFrom(address.address, address.args, session, cb),
      onRcptTo: (address, session, cb) => this.onRcptTo(address.address, address.args, session, cb),
      onAuth: (auth, session, cb) => {
        this.onAuth(auth.username ?? "", auth.password ?? "", session).then(
          (user) => cb(null, { user }),
          (err: Error) => cb(err),
        );
      },
      onData: (stream, session, cb) => {
        const state = this.states.get(session.id);
        const current = this.deps;
        const review = state ? current.reviews?.[state.role] : undefined;
        // The client waits for our answer now: our own work (verification, fsyncs) is not its delay.
        stream.once("end", () => state?.lineDeadline.hold());
        const answered = () => state?.lineDeadline.refresh();
        takeMessage(
          { ...current, hostname: current.mail.hostname, review },
          stream,
          session,
          state?.remote ?? "unknown",
        ).then(
          (reply) => {
            answered();
            cb(null, reply);
          },
          (err: Error) => {
            answered();
            cb(err);
          },
        );
      },
      onClose: (session) => this.states.delete(session.id),
    };
    this.servers = {
      smtp: new SMTPServer({ ...common, disabledCommands: ["AUTH"], authOptional: true }),
      submission: new SMTPServer({ ...common }),
      smtps: new SMTPServer({ ...common, secure: true, needsUpgrade: true }),
    };
    // smtp-server re-emits a client's socket error inside a transaction (a reset mid-DATA) on the
    // server: unheard, that is an uncaught exception that ends the worker. The session itself ends
    // through the socket's close like any other (its slot is released there).
    for (const server of Object.values(this.servers))
      server.on("error", (err: Error & { code?: string; remoteAddress?: string }) =>
        deps.logger.info(
          { code: err.code, remote: err.remoteAddress, msg: err.message },
          "client connection error",
        ),
      );
  }

  /** Adopts a handed-off connection; its route's `role` says which kind of port it came in on. */
  handle(
    socket: Socket,
    from: { route: string; role?: string | undefined },
    remote: { address: string; port: number },
    local: { address: string; port: number },
  ): void {
    const { role, route } = from;
    if (!isMailRole(role)) {
      this.deps.logger.warn({ route, role }, "connection from a route without a mail role; closing");
      socket.destroy();
      return;
    }
    socket.on("error", () => {});
    const { limits, hostname } = this.deps.mail;
    // Released (counts, gauge, timers) when this socket closes, however the session ends.
    const slot = this.slots.acquire(socket, remote.address, role);
    let handle: SmtpConnectionHandle | undefined;
    slot.timer(limits.sessionTimeoutMs, () => {
      this.deps.metrics.reject("deadline");
      handle?.refuseAndClose(421, `4.4.2 ${hostname} session time limit reached, closing`);
    });
    const lineDeadline = slot.timer(limits.commandTimeoutMs, () => {
      this.deps.metrics.reject("command-timeout");
      handle?.refuseAndClose(421, `4.4.2 ${hostname} command timeout, closing`);
    });
    handle = connectSocket(this.servers[role], socket, {
      remoteAddress: remote.address,
      remotePort: remote.port,
      localAddress: local.address,
      localPort: local.port,
      authOnlyOverTls: role === "submission",
      // Known before smtp-server greets (in connectSocket itself): onConnect reads it.
      onSessionId: (id) =>
        this.states.set(id, { role, remote: remote.address, overIpLimit: slot.overLimit, lineDeadline }),
      inspect: () => {
        const guard = new BareNewlineGuard();
        let poisoned = false;
        return (chunk) => {
          if (poisoned) return false;
          // Only a complete line restarts the command deadline, never a dribbled byte.
          if (chunk.includes(LF)) lineDeadline.refresh();
          if (guard.accept(chunk)) return true;
          poisoned = true;
          this.deps.metrics.reject("bare-newline");
          handle?.refuseAndClose(550, "5.5.2 Bare CR or LF received (only CRLF ends a line); closing");
          return false;
        };
      },
    });
  }

  private onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.states.get(session.id)?.overIpLimit) {
      this.deps.metrics.reject("ip-limit");
      cb(new SmtpReply(421, "4.7.0", "Too many connections from your address, try later"));
      return;
    }
    cb();
  }

  /** 555 for a MAIL/RCPT parameter no advertised extension defines; true when it refused. */
  private refuseUnknownParameter(
    command: "MAIL" | "RCPT",
    args: Record<string, unknown> | false | undefined,
    role: PortRole,
    cb: (err?: Error | null) => void,
  ): boolean {
    const unknown = unknownParameter(command, args, role);
    if (unknown === undefined) return false;
    this.deps.metrics.reject("esmtp-parameter");
    cb(SmtpReply.fromLine(555, unknownParameterText(unknown)));
    return true;
  }

  private onMailFrom(
    from: string,
    args: Record<string, unknown> | false | undefined,
    session: SMTPServerSession,
    cb: (err?: Error | null) => void,
  ): void {
    const role = this.states.get(session.id)?.role ?? "smtp";
    if (this.refuseUnknownParameter("MAIL", args, role, cb)) return;
    if (role !== "smtp") {
      const user = typeof session.user === "string" ? session.user : "";
      if (!user || !this.deps.policy.maySendAs(user, from)) {
        this.deps.metrics.reject("sender");
        cb(new SmtpReply(553, "5.7.1", `Sender address not owned by ${user || "you"}`));
        return;
      }
    }
    cb();
  }

  private onRcptTo(
    to: string,
    args: Record<string, unknown> | false | undefined,
    session: SMTPServerSession,
    cb: (err?: Error | null) => void,
  ): void {
    if (this.refuseUnknownParameter("RCPT", args, this.states.get(session.id)?.role ?? "smtp", cb)) return;
    if (session.envelope.rcptTo.length >= this.deps.mail.limits.maxRecipients) {
      this.deps.metrics.reject("too-many-recipients");
      cb(new SmtpReply(452, "4.5.3", "Too many recipients"));
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
    cb(SmtpReply.fromLine(verdict.code, verdict.message));
  }

  private async onAuth(username: string, password: string, session: SMTPServerSession): Promise<string> {
    const ip = this.states.get(session.id)?.remote ?? "unknown";
    this.deps.authGuard?.before(ip, session.id);
    const user = await this.credentials.check(username, password);
    if (user !== undefined) return user;
    const address = username.toLowerCase();
    this.deps.metrics.reject("auth");
    this.deps.logger.info({ session: session.id, username: address.slice(0, 100) }, "authentication failed");
    throw (
      this.deps.authGuard?.failed(ip, session.id) ??
      new SmtpReply(535, "5.7.8", "Authentication credentials invalid")
    );
  }

  /**
   * Serves every new command by `mail` and `reviews` from now on (a config reload): mailboxes and
   * passwords, message reviews (DKIM keys) and limits. The address policy is shared: its holder
   * swaps it. Open sessions keep their slot and their timers.
   */
  useSettings(mail: MailSection, reviews: SmtpFrontDeps["reviews"]): void {
    this.deps = { ...this.deps, mail, ...(reviews ? { reviews } : {}) };
    if (!reviews) delete this.deps.reviews;
    this.credentials = new CredentialCheck(mail.mailboxes, this.deps.verifyPassword);
    this.slots.maxPerAddress = mail.limits.maxConnectionsPerIp;
    for (const server of Object.values(this.servers)) {
      // smtp-server reads these from its options for every connection and command.
      Object.assign(server.options, serverLimits(mail));
    }
  }

  /** Stops every server and ends the open sessions (after `graceMs`, they are destroyed). */
  async close(graceMs = 2000): Promise<void> {
    for (const server of Object.values(this.servers)) server.close();
    const until = Date.now() + graceMs;
    while (this.slots.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const socket of this.slots.open) socket.destroy();
  }

  /** The certificate for clients without SNI, on every port, for the next TLS handshake. */
  useDefaultContext(context: SecureContext): void {
    for (const server of Object.values(this.servers)) setDefaultSecureContext(server, context);
  }

  get activeSessions(): number {
    return this.slots.size;
  }
}
