import type { MailOutboundConfig } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import type { SMTPConnectionOptions } from "nodemailer/lib/smtp-connection";
import { MtaStsMismatchError, NoMxAddressError, RelayError } from "../errors.js";
import type { QueueRecipient } from "../spool/queue-entry.js";
import type { SpooledMessage } from "../spool/spool-layout.js";
import type { MtaSts } from "./mta-sts.js";
import { mxMatches } from "./mta-sts.js";
import type { MxLookup } from "./mx-lookup.js";
import type { RecipientOutcome, RemoteDelivery } from "./relay-queue.js";
import { SmtpSendError, sendOverSmtp } from "./smtp-client.js";

/** How a session is secured: `opportunistic` STARTTLS without checks, or TLS `verified` against the name. */
type TlsMode = "opportunistic" | "verified" | "implicit";

interface Candidate {
  name: string;
  address: string;
  port: number;
  tls: TlsMode;
  /** MTA-STS testing: a failed verification is reported and the host tried again without it. */
  fallback?: boolean;
}

type Route =
  | { kind: "relay"; host: string; port: number }
  | { kind: "smarthost" }
  | { kind: "mx"; domain: string };

export interface OutboundDeps {
  config: MailOutboundConfig;
  hostname: string;
  dns: MxLookup;
  mtaSts?: MtaSts;
  /** Trusted CAs for verified TLS; undefined: Node's defaults. */
  ca?: string[];
  smarthostPassword?: string;
  logger: Pick<Logger, "info" | "warn">;
  onMtaSts?: (event: "enforced" | "report" | "refused") => void;
}

/**
 * Hands queued messages to other servers with nodemailer's SMTP client. Each recipient goes to a
 * forward rule's relay host, else the smarthost, else its domain's MX hosts in preference order
 * (STARTTLS when offered; verified TLS and matching hosts only when the domain's MTA-STS policy
 * enforces). One SMTP transaction per route; each recipient gets its own outcome.
 */
export class OutboundDelivery implements RemoteDelivery {
  constructor(private readonly deps: OutboundDeps) {}

  async deliver(message: SpooledMessage, recipients: readonly QueueRecipient[]): Promise<RecipientOutcome[]> {
    const groups = new Map<string, { route: Route; indexes: number[] }>();
    recipients.forEach((r, i) => {
      const route = this.routeOf(r);
      const key = JSON.stringify(route);
      const group = groups.get(key) ?? { route, indexes: [] };
      group.indexes.push(i);
      groups.set(key, group);
    });
    const outcomes: RecipientOutcome[] = [];
    for (const { route, indexes } of groups.values()) {
      const addresses = indexes.map((i) => (recipients[i] as QueueRecipient).address);
      const results = await this.send(route, message, addresses);
      indexes.forEach((i, j) => {
        outcomes[i] = results[j] as RecipientOutcome;
      });
    }
    return outcomes;
  }

  private routeOf(recipient: QueueRecipient): Route {
    if (recipient.relay) {
      const at = recipient.relay.lastIndexOf(":");
      return {
        kind: "relay",
        host: recipient.relay.slice(0, at).replace(/^\[|\]$/g, ""),
        port: Number(recipient.relay.slice(at + 1)),
      };
    }
    if (this.deps.config.smarthost) return { kind: "smarthost" };
    return { kind: "mx", domain: recipient.address.slice(recipient.address.lastIndexOf("@") + 1) };
  }

  private async send(
    route: Route,
    message: SpooledMessage,
    addresses: string[],
  ): Promise<RecipientOutcome[]> {
    const all = (status: RecipientOutcome["status"], reply: string, remoteMta?: string) =>
      addresses.map(() => ({ status, reply, ...(remoteMta ? { remoteMta } : {}) }));
    let candidates: Candidate[];
    try {
      candidates = await this.candidates(route);
    } catch (err) {
      if (err instanceof RelayError) return all(err.permanent ? "failed" : "deferred", err.reply);
      return all("deferred", `4.4.3 ${(err as Error).message}`);
    }
    let lastError = "no host tried";
    let lastHost: string | undefined;
    for (const candidate of candidates) {
      lastHost = candidate.name;
      try {
        const result = await this.sendTo(candidate, message, addresses, route.kind === "smarthost");
        const accepted = new Set(result.accepted.map((a) => a.toLowerCase()));
        const rejected = new Map(result.rejected.map((r) => [r.address.toLowerCase(), r]));
        return addresses.map((address) => {
          const refusal = rejected.get(address.toLowerCase());
          if (refusal) {
            return {
              status: refusal.permanent ? "failed" : "deferred",
              reply: refusal.reply,
              remoteMta: candidate.name,
            };
          }
          if (accepted.has(address.toLowerCase())) {
            return { status: "delivered", reply: result.response, remoteMta: candidate.name };
          }
          return { status: "deferred", reply: "no reply for this recipient", remoteMta: candidate.name };
        });
      } catch (err) {
        if (err instanceof SmtpSendError && err.stage === "transaction") {
          return all(err.permanent ? "failed" : "deferred", err.reply, candidate.name);
        }
        lastError = (err as Error).message;
        this.deps.logger.info(
          { message: message.id, host: candidate.name, address: candidate.address, err: lastError },
          "host failed; trying the next",
        );
      }
    }
    return all("deferred", lastError, lastHost);
  }

  /** One attempt at one host; MTA-STS testing retries a failed verification without it, reporting it. */
  private async sendTo(candidate: Candidate, message: SpooledMessage, to: string[], auth: boolean) {
    const envelope = { from: message.entry.from, to: [...new Set(to)] };
    const credentials =
      auth && this.deps.config.smarthost?.user && this.deps.smarthostPassword !== undefined
        ? { user: this.deps.config.smarthost.user, pass: this.deps.smarthostPassword }
        : undefined;
    try {
      return await sendOverSmtp(this.options(candidate), credentials, envelope, message.path);
    } catch (err) {
      if (!(candidate.fallback && err instanceof SmtpSendError && err.stage === "connect")) throw err;
      this.deps.onMtaSts?.("report");
      this.deps.logger.warn(
        { host: candidate.name, err: err.message },
        "MTA-STS testing: TLS could not be verified; delivering without (policy mode testing)",
      );
      return sendOverSmtp(
        this.options({ ...candidate, tls: "opportunistic" }),
        credentials,
        envelope,
        message.path,
      );
    }
  }

  private options(candidate: Candidate): SMTPConnectionOptions {
    const { timeoutMs } = this.deps.config;
    const base: SMTPConnectionOptions = {
      host: candidate.address,
      port: candidate.port,
      name: this.deps.hostname,
      connectionTimeout: Math.min(30_000, timeoutMs),
      greetingTimeout: Math.min(30_000, timeoutMs),
      socketTimeout: timeoutMs,
    };
    const verified = {
      servername: candidate.name,
      rejectUnauthorized: true,
      ...(this.deps.ca ? { ca: this.deps.ca } : {}),
    };
    if (candidate.tls === "implicit")
      return { ...base, secure: true, servername: candidate.name, tls: verified };
    if (candidate.tls === "verified")
      return { ...base, requireTLS: true, servername: candidate.name, tls: verified };
    return {
      ...base,
      opportunisticTLS: true,
      servername: candidate.name,
      tls: { servername: candidate.name, rejectUnauthorized: false },
    };
  }

  private async candidates(route: Route): Promise<Candidate[]> {
    const { dns, config } = this.deps;
    if (route.kind === "relay") {
      return (await dns.addresses(route.host)).map((address) => ({
        name: route.host,
        address,
        port: route.port,
        tls: "opportunistic",
      }));
    }
    if (route.kind === "smarthost") {
      const smarthost = config.smarthost as NonNullable<MailOutboundConfig["smarthost"]>;
      const tls: TlsMode = smarthost.tls === "implicit" ? "implicit" : "verified";
      return (await dns.addresses(smarthost.host)).map((address) => ({
        name: smarthost.host,
        address,
        port: smarthost.port,
        tls,
      }));
    }
    const hosts = await dns.mx(route.domain);
    const policy = await this.deps.mtaSts?.policy(route.domain);
    const enforce = policy?.mode === "enforce";
    const testing = policy?.mode === "testing";
    const out: Candidate[] = [];
    let refused = 0;
    for (const host of hosts) {
      const fits = policy ? mxMatches(policy, host.name) : true;
      if (enforce && !fits) {
        refused++;
        this.deps.onMtaSts?.("refused");
        this.deps.logger.warn(
          { domain: route.domain, host: host.name },
          "MTA-STS enforce: MX host not in the policy; skipped",
        );
        continue;
      }
      if (testing && !fits) {
        this.deps.onMtaSts?.("report");
        this.deps.logger.warn(
          { domain: route.domain, host: host.name },
          "MTA-STS testing: MX host not in the policy",
        );
      }
      const addresses = await dns.addresses(host.name).catch((err: unknown) => {
        this.deps.logger.info({ host: host.name, err: (err as Error).message }, "MX host has no address");
        return [] as string[];
      });
      for (const address of addresses) {
        if (enforce) this.deps.onMtaSts?.("enforced");
        out.push({
          name: host.name,
          address,
          port: config.mxPort,
          tls: enforce || (testing && fits) ? "verified" : "opportunistic",
          ...(testing ? { fallback: true } : {}),
        });
      }
    }
    if (out.length === 0 && refused === hosts.length) throw new MtaStsMismatchError();
    if (out.length === 0) throw new NoMxAddressError(route.domain);
    return out;
  }
}
