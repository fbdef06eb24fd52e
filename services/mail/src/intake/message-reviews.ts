import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import type { AuthMetrics } from "../auth-metrics.js";
import { DkimSigner, loadDkimKeys, signingReview } from "../auth/dkim-signer.js";
import { createDnsResolve } from "../relay/dns-resolver.js";
import { InboundVerifier, inboundReview } from "../auth/inbound-verification.js";
import type { MessageReview } from "./message-intake.js";
import type { PortRole } from "../smtp/smtp-front.js";

/**
 * Which review each port's messages get, from the config: verification on 25 (when
 * `inbound.verify`), DKIM signing on 587 and 465 (when `dkim` has keys; they are read here).
 */
export async function messageReviews(
  mail: MailSection,
  metrics: AuthMetrics,
  logger: Logger,
): Promise<Partial<Record<PortRole, MessageReview>>> {
  const reviews: Partial<Record<PortRole, MessageReview>> = {};
  if (mail.inbound.verify) {
    const verifier = new InboundVerifier({
      hostname: mail.hostname,
      inbound: mail.inbound,
      resolve: createDnsResolve(mail.inbound.resolver),
      metrics,
      logger,
    });
    reviews.smtp = inboundReview(verifier);
  }
  if (mail.dkim.length > 0) {
    const sign = signingReview(new DkimSigner(await loadDkimKeys(mail.dkim), metrics, logger));
    reviews.submission = sign;
    reviews.smtps = sign;
  }
  return reviews;
}
