import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { type AuthenticateResult, authenticate, type DMARCResult } from "mailauth";
import { SmtpReply } from "../errors.js";
import type { MessageReview } from "../intake/message-intake.js";
import type { AuthMetrics } from "../metrics.js";
import type { DnsResolve } from "../relay/dns-resolver.js";
import { authenticationResults, withoutForgedResults } from "./auth-results-header.js";

/** What the SMTP session knew about the message's arrival. */
export interface Arrival {
  /** The client's real address, as the edge saw it. */
  ip: string;
  helo: string;
  /** MAIL FROM; empty for the null sender (bounces), when SPF checks the HELO name instead. */
  sender: string;
  session: string;
}

/** The verified message: the header fields to put on top, and the message without forged results. */
export interface Verified {
  headers: Buffer;
  message: Buffer;
}

type Disposition = "none" | "quarantine" | "reject";

export interface InboundVerifierDeps {
  hostname: string;
  inbound: MailSection["inbound"];
  resolve: DnsResolve;
  metrics: AuthMetrics;
  logger: Logger;
}

/**
 * SPF (client IP, HELO, MAIL FROM), DKIM, DMARC and ARC for a message arriving on port 25, with
 * mailauth, through the configured DNS server. The results go into one Authentication-Results
 * field (authserv-id: our hostname); copies of that field claiming our name are removed first. A
 * DMARC failure of a `p=reject` domain is refused with 550 5.7.1 when `dmarcReject` says so;
 * `p=quarantine` is delivered and recorded (`dis=QUARANTINE`).
 */
export class InboundVerifier {
  constructor(private readonly deps: InboundVerifierDeps) {}

  async verify(raw: Buffer, arrival: Arrival): Promise<Verified> {
    const { hostname, logger } = this.deps;
    const message = withoutForgedResults(raw, hostname);
    const result = await this.authenticateWithin(message, arrival);
    const dmarc = result.dmarc || undefined;
    const disposition = dmarc?.status.result === "fail" ? this.dispositionOf(dmarc) : undefined;
    this.count(result, disposition);
    const rows = [
      ...result.dkim.results.map((r) => dkimRow(r.info)),
      ...(result.spf ? [result.spf.info] : []),
      arcRow(result.arc),
      ...(dmarc ? [dmarcRow(dmarc, disposition ?? "none")] : []),
    ];
    const summary = {
      session: arrival.session,
      spf: result.spf ? result.spf.status.result : "none",
      dkim: result.dkim.results.map((r) => r.status.result).join(","),
      dmarc: dmarc?.status.result ?? "none",
      from: dmarc?.status.header?.from,
      disposition,
    };
    if (disposition === "reject") {
      logger.info(summary, "message refused: DMARC policy reject");
      throw new SmtpReply(
        550,
        "5.7.1",
        `Message rejected: DMARC policy of ${dmarc?.domain ?? "the sender's domain"} says reject`,
      );
    }
    if (disposition) logger.info(summary, "message verified: DMARC failed");
    else logger.debug(summary, "message verified");
    return { headers: Buffer.from(authenticationResults(hostname, rows), "latin1"), message };
  }

  private async authenticateWithin(message: Buffer, arrival: Arrival): Promise<AuthenticateResult> {
    const { hostname, inbound, resolve } = this.deps;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SmtpReply(451, "4.4.3", "Sender authentication checks timed out, try again later")),
        inbound.timeoutMs,
      );
    });
    const ip = arrival.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
    try {
      return await Promise.race([
        authenticate(message, {
          ip,
          helo: arrival.helo,
          sender: arrival.sender,
          mta: hostname,
          resolver: resolve,
          disableBimi: true,
        }),
        deadline,
      ]);
    } catch (err) {
      if (err instanceof SmtpReply) {
        this.deps.logger.warn({ session: arrival.session }, "sender authentication checks timed out");
        throw err;
      }
      this.deps.logger.warn({ err, session: arrival.session }, "sender authentication checks failed");
      throw new SmtpReply(451, "4.7.0", "Sender authentication checks failed, try again later", {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** What a DMARC failure leads to: the domain's policy, sampled by `pct`, capped by our config. */
  private dispositionOf(dmarc: DMARCResult): Disposition {
    let policy: Disposition =
      dmarc.policy === "reject" ? "reject" : dmarc.policy === "quarantine" ? "quarantine" : "none";
    // RFC 7489 §6.6.4: outside the pct sample, apply the next less strict policy.
    const pct = typeof dmarc.pct === "number" ? dmarc.pct : 100;
    if (policy !== "none" && pct < 100 && Math.random() * 100 >= pct) {
      policy = policy === "reject" ? "quarantine" : "none";
    }
    if (policy === "reject" && !this.deps.inbound.dmarcReject) return "none";
    return policy;
  }

  private count(result: AuthenticateResult, disposition: Disposition | undefined): void {
    const { metrics } = this.deps;
    metrics.checked("spf", result.spf ? result.spf.status.result : "none");
    for (const r of result.dkim.results) metrics.checked("dkim", dkimResultOf(r.info));
    metrics.checked("arc", result.arc ? result.arc.status.result : "none");
    metrics.checked("dmarc", result.dmarc ? result.dmarc.status.result : "none");
    if (disposition) metrics.dmarcDisposition(disposition);
  }
}

/**
 * mailauth reports a body hash mismatch as `neutral`; RFC 6376 §6.1.3 calls it a PERMFAIL, which
 * Authentication-Results writes as `fail` (RFC 8601 §2.7.1).
 */
function dkimRow(info: string): string {
  return info.replace(/^dkim=neutral \(body hash did not verify\)/, "dkim=fail (body hash did not verify)");
}

function dkimResultOf(info: string): string {
  return /^dkim=(\w+)/.exec(dkimRow(info))?.[1] ?? "none";
}

function arcRow(arc: AuthenticateResult["arc"]): string {
  if (!arc) return "arc=none";
  return arc.info ?? `arc=${arc.status.result}`;
}

/** `dmarc=<result> (p=… sp=… dis=…) header.from=…`: the policy found and what we did with it. */
function dmarcRow(dmarc: DMARCResult, disposition: Disposition): string {
  const result = dmarc.status.result;
  const from = dmarc.status.header?.from;
  const comment = [
    dmarc.p ? `p=${dmarc.p.toUpperCase()}` : "",
    dmarc.sp && dmarc.sp !== dmarc.p ? `sp=${dmarc.sp.toUpperCase()}` : "",
    result === "fail" ? `dis=${disposition.toUpperCase()}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  return `dmarc=${result}${comment ? ` (${comment})` : ""}${from ? ` header.from=${from}` : ""}`;
}

/** The verifier as a DATA-time review: the session supplies HELO and MAIL FROM. */
export function inboundReview(verifier: InboundVerifier): MessageReview {
  return (message, session, remote) =>
    verifier.verify(message, {
      ip: remote,
      helo: session.hostNameAppearsAs ?? "",
      sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      session: session.id,
    });
}
