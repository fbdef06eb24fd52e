import type { MailSection } from "@switchyard/config";
import { connectNats, type Logger, type NatsAuth } from "@switchyard/runtime";
import { SmtpReply } from "../errors.js";
import type { AuthMetrics } from "../metrics.js";
import { AuthLimiter } from "./auth-limiter.js";
import { BanPublisher } from "./ban-publisher.js";

export interface AuthGuardDeps {
  limiter: AuthLimiter;
  /** Absent when `authLimits.banSeconds` is 0. */
  bans?: BanPublisher | undefined;
  banSeconds: number;
  metrics: AuthMetrics;
  logger: Logger;
}

const tooMany = () =>
  // smtp-server closes the connection after any 421.
  new SmtpReply(421, "4.7.0", "Too many authentication failures from your address, try again later");

/**
 * AUTH policy per client IP around the credential check: a client past the failure limit is
 * refused (421, connection closed) before its credentials are even looked at; the failure that
 * reaches the limit is answered 421 too and, once per window, published on `firewall.ban`.
 */
export class AuthGuard {
  constructor(private readonly deps: AuthGuardDeps) {}

  /** Throws the 421 refusal when `ip` is blocked. */
  before(ip: string, session: string): void {
    if (!this.deps.limiter.blocked(ip)) return;
    this.deps.metrics.authRefused();
    this.deps.logger.info({ session, ip }, "AUTH refused: too many failures from this address");
    throw tooMany();
  }

  /** Counts a failure; returns the reply for it (535, or 421 at the limit). */
  failed(ip: string, session: string): SmtpReply {
    const { limiter, bans, banSeconds, metrics, logger } = this.deps;
    metrics.authFailed();
    const outcome = limiter.recordFailure(ip);
    metrics.trackedIps(limiter.tracked);
    if (outcome.ban && bans && banSeconds > 0) bans.publish(outcome.client, banSeconds);
    if (!outcome.blocked) return new SmtpReply(535, "5.7.8", "Authentication credentials invalid");
    logger.info({ session, ip, client: outcome.client }, "AUTH failure limit reached");
    return tooMany();
  }
}

/**
 * The guard from the config: the limiter, and (when `banSeconds` > 0) a ban publisher connecting
 * to `natsServers` in the background. `close()` stops both.
 */
export function startAuthGuard(options: {
  limits: MailSection["authLimits"];
  natsServers: string[];
  /** config `nats` tokenFile / credentialsFile (natsAuth(config.nats, "mail")). */
  natsAuth?: NatsAuth;
  name: string;
  metrics: AuthMetrics;
  logger: Logger;
}): { guard: AuthGuard; close(): Promise<void> } {
  const { limits, natsServers, name, metrics, logger } = options;
  const limiter = new AuthLimiter(limits);
  const bans =
    limits.banSeconds > 0 && limits.maxFailures > 0
      ? new BanPublisher(
          () => connectNats({ servers: natsServers, ...options.natsAuth, name, logger }),
          metrics,
          logger,
        )
      : undefined;
  return {
    guard: new AuthGuard({ limiter, bans, banSeconds: limits.banSeconds, metrics, logger }),
    async close() {
      limiter.close();
      await bans?.close();
    },
  };
}
