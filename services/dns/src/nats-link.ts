import { closeNats, connectNats, type Logger, type NatsConnection } from "@switchyard/runtime";

export interface NatsLinkOptions {
  servers: string[];
  /** The NATS token file (config `nats.tokenFile`), when the server requires one. */
  tokenFile?: string | undefined;
  /** This role's `user:password` file (config `nats.credentialsFile`, `{role}` replaced). */
  credentialsFile?: string | undefined;
  /** Connection name shown by the NATS server. */
  name: string;
  logger: Logger;
}

/**
 * The replica's one NATS connection, shared by the record feed, rate-limit bans and the certificate
 * watcher. Made in the background on first use (serving never waits for it); it reconnects forever.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private connecting: Promise<NatsConnection | undefined> | undefined;
  private closed = false;

  constructor(private readonly options: NatsLinkOptions) {}

  /** The connection once made; undefined when it never will be (closed first, or connect failed). */
  connection(): Promise<NatsConnection | undefined> {
    this.connecting ??= connectNats(this.options).then(
      async (nc) => {
        if (this.closed) {
          await nc.close();
          return undefined;
        }
        this.nc = nc;
        return nc;
      },
      (err: unknown) => {
        if (!this.closed) this.options.logger.error({ err }, "nats: giving up on connecting");
        return undefined;
      },
    );
    return this.connecting;
  }

  /** Publishes when connected (or buffered while reconnecting); false when there is no connection yet. */
  publish(subject: string, data: string): boolean {
    if (!this.nc || this.nc.isClosed()) return false;
    this.nc.publish(subject, data);
    return true;
  }

  /** Drains (published bans go out) when connected, bounded in time; closes at once when the server is away. */
  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    if (nc) await closeNats(nc);
  }
}
