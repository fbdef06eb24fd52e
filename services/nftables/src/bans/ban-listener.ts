import { BAN_SUBJECT, type Logger, type NatsConnection } from "@switchyard/runtime";
import { BanError, NftError, RulesetInputError } from "../errors.js";
import { errorText, type FirewallAgent } from "../firewall-agent.js";
import type { FirewallMetrics } from "../metrics.js";
import { parseBanRequest } from "./ban-request.js";

export { BAN_SUBJECT };

/**
 * Bans from NATS (`firewall.ban`, published by mail and dns on abuse). A bad message is logged,
 * counted and, when the publisher asked for a reply, answered with the reason.
 */
export function listenForBans(
  nc: NatsConnection,
  agent: FirewallAgent,
  metrics: FirewallMetrics,
  logger: Logger,
) {
  const sub = nc.subscribe(BAN_SUBJECT);
  void (async () => {
    for await (const msg of sub) {
      let reply: { ok: boolean; address?: string; until?: number; error?: string };
      try {
        const request = parseBanRequest(msg.data);
        const ban = await agent.ban({ ...request, source: request.source || "nats" });
        reply = { ok: true, address: ban.network.text, until: ban.until };
      } catch (error) {
        const reason =
          error instanceof BanError
            ? "refused"
            : error instanceof RulesetInputError
              ? "bad_address"
              : error instanceof NftError
                ? "nft"
                : "invalid";
        metrics.banRejections.inc({ reason });
        logger.warn({ err: error, subject: msg.subject }, "ban request refused");
        reply = { ok: false, error: errorText(error) };
      }
      if (msg.reply) msg.respond(JSON.stringify(reply));
    }
  })();
  return sub;
}
