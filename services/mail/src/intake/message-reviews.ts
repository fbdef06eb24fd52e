import type { MailSection } from "@switchyard/config";
import type { Logger } from "@switchyard/runtime";
import { type DkimKey, DkimSigner, signingReview } from "../auth/dkim-signer.js";
import { InboundVerifier, inboundReview } from "../auth/inbound-verification.js";
import type { AuthMetrics } from "../metrics.js";
import { createDnsResolve } from "../relay/dns-resolver.js";
import type { PortRole } from "../smtp/smtp-front.js";
import type { MessageReview } from "./message-intake.js";

/**
 * Which review each port's messages get, from the config: verification on 25 (when
 * `inbound.verify`), DKIM signing on 587 and 465 with `dkimKeys` (read by loadMailSettings).
 */
export function messageReviews(
  mail: MailSection,
  dkimKeys: DkimKey[],
  metrics: AuthMetrics,
  logger: Logger,
): Partial<Record<PortRole, MessageReview>> {
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
  if (dkimKeys.length > 0) {
    const sign = signingReview(new DkimSigner(dkimKeys, metrics, logger));
    reviews.submission = sign;
    reviews.smtps = sign;
  }
  return reviews;
}
