import type { DnsSection } from "@switchyard/config";
import { BAN_SUBJECT, type Logger } from "@switchyard/runtime";
import type { DnsMetrics } from "../metrics.js";
import type { NatsLink } from "../nats-link.js";
import { ResponseRateLimiter } from "./rate-limiter.js";

/**
 * The replica's rate limiter for `dns.rrl`, counted in metrics. With NATS, a network limited for a
 * whole window is published on the ban subject for the nftables agent (rrl.banSeconds).
 */
export function createRateLimiter(
  rrl: DnsSection["rrl"],
  metrics: DnsMetrics,
  logger: Logger,
  nats: NatsLink | undefined,
): ResponseRateLimiter {
  return new ResponseRateLimiter(rrl, {
    dropped: () => metrics.rrlDropped.inc(),
    slipped: () => metrics.rrlSlipped.inc(),
    ...(nats && {
      ban: (address, seconds) => {
        const ban = { address, seconds, reason: "dns-rrl", source: "dns" };
        if (!nats.publish(BAN_SUBJECT, JSON.stringify(ban))) {
          logger.warn({ ban }, "nats not connected: ban not published");
          return;
        }
        metrics.rrlBans.inc();
        logger.warn({ address, seconds }, "rate limited for a whole window: ban published");
      },
    }),
  });
}
