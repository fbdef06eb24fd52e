import { BAN_SUBJECT, closeNats, type Logger, type NatsConnection } from "@switchyard/runtime";
import type { AuthMetrics } from "../metrics.js";

/** The subject the nftables agent listens on (shared contract, see docs/architecture.md, "Fan-out"). */
export { BAN_SUBJECT };

/** The `firewall.ban` message, exactly as the contract fixes it. */
export interface BanMessage {
  address: string;
  seconds: number;
  reason: "smtp-auth";
  source: "mail";
}

const MAX_PENDING = 1000;

/**
 * Publishes ban requests on NATS `firewall.ban`. The connection is made in the background (SMTP
 * never waits for NATS); requests made before it is up wait in a bounded queue and go out once it
 * is. NATS reconnects by itself; a publish that throws is counted and logged, never retried.
 */
export class BanPublisher {
  private nc: NatsConnection | undefined;
  private readonly pending: BanMessage[] = [];
  private closed = false;

  constructor(
    connect: () => Promise<NatsConnection>,
    private readonly metrics: AuthMetrics,
    private readonly logger: Logger,
  ) {
    connect().then(
      (nc) => {
        if (this.closed) {
          void nc.close();
          return;
        }
        this.nc = nc;
        for (const ban of this.pending.splice(0)) this.send(ban);
      },
      (err: unknown) => logger.error({ err }, "no NATS connection: firewall.ban requests will not be sent"),
    );
  }

  publish(address: string, seconds: number): void {
    const ban: BanMessage = { address, seconds, reason: "smtp-auth", source: "mail" };
    if (this.nc) {
      this.send(ban);
    } else if (this.pending.length < MAX_PENDING) {
      this.pending.push(ban);
    } else {
      this.metrics.banRequested("failed");
      this.logger.warn({ address }, "firewall.ban not sent: NATS not connected and the queue is full");
    }
  }

  private send(ban: BanMessage): void {
    try {
      this.nc?.publish(BAN_SUBJECT, JSON.stringify(ban));
      this.metrics.banRequested("published");
      this.logger.warn(
        { address: ban.address, seconds: ban.seconds },
        "published firewall.ban: repeated AUTH failures",
      );
    } catch (err) {
      this.metrics.banRequested("failed");
      this.logger.warn({ err, address: ban.address }, "firewall.ban not sent");
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = undefined;
    // Published bans go out if the server is there; a server that is away cannot hold up the stop.
    if (nc) await closeNats(nc);
  }
}
