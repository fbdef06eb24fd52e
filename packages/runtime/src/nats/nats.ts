import { readFile } from "node:fs/promises";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { NatsError } from "../errors.js";
import type { Logger } from "../logger.js";
import { readNatsCredentials } from "./nats-credentials.js";
import { natsInboxPrefix } from "./nats-permissions.js";

export type { KV, KvOptions } from "@nats-io/kv";
export { type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";

export interface NatsOptions {
  /** "nats://host:4222" or several, tried in turn. */
  servers: string | string[];
  /** Connection name the server shows in its monitoring (e.g. "mail-7f3c"). */
  name: string;
  logger: Logger;
  token?: string;
  /** A file holding the token (config `nats.tokenFile`); read at connect, whitespace trimmed. */
  tokenFile?: string;
  user?: string;
  pass?: string;
  /**
   * A file holding this role's `user:password` (config `nats.credentialsFile`, `{role}` already
   * replaced). Replies then come to `_INBOX_<user>`, the only inboxes the user may subscribe to.
   */
  credentialsFile?: string;
}

/** Whether each connection made here is connected to a server right now (kept by logStatus). */
const online = new WeakMap<NatsConnection, boolean>();

/**
 * Connects to NATS and keeps reconnecting forever, including when the server is not up yet
 * at start. Disconnects, reconnects and server errors are logged.
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const { servers, name, logger } = options;
  const token =
    options.token ?? (options.tokenFile === undefined ? undefined : await readNatsToken(options.tokenFile));
  const login =
    options.credentialsFile === undefined ? undefined : await readNatsCredentials(options.credentialsFile);
  const user = login?.user ?? options.user;
  const pass = login?.pass ?? options.pass;
  if (token !== undefined && (user !== undefined || pass !== undefined)) {
    throw new NatsError("nats: use either a token or user/pass (credentials file), not both");
  }
  const settings: NodeConnectionOptions = {
    servers,
    name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    ...(token !== undefined && { token }),
    ...(user !== undefined && { user }),
    ...(pass !== undefined && { pass }),
    ...(user !== undefined && { inboxPrefix: natsInboxPrefix(user) }),
  };
  let nc: NatsConnection;
  try {
    nc = await connect(settings);
  } catch (error) {
    throw new NatsError(`nats: cannot connect to ${[servers].flat().join(", ")}`, { cause: error });
  }
  logger.info({ server: nc.getServer() }, "nats connected");
  online.set(nc, true);
  void logStatus(nc, logger);
  return nc;
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const event of nc.status()) {
    switch (event.type) {
      case "disconnect":
        online.set(nc, false);
        logger.warn({ server: event.server }, "nats disconnected");
        break;
      case "reconnect":
        online.set(nc, true);
        logger.info({ server: event.server }, "nats reconnected");
        break;
      case "error":
        logger.warn({ err: event.error }, "nats server error");
        break;
      case "ldm":
        logger.warn({ server: event.server }, "nats server entering lame duck mode");
        break;
      case "slowConsumer":
        logger.warn({ subject: event.sub.getSubject(), pending: event.pending }, "nats slow consumer");
        break;
    }
  }
  const error = await nc.closed();
  if (error) logger.error({ err: error }, "nats connection closed");
  else logger.info("nats connection closed");
}

/**
 * Ends a connection, waiting only for what can actually go out: connected, it drains (subscriptions
 * finish, buffered publishes are flushed) within `deadlineMs`; with the server away it closes at once,
 * since nothing could be sent until the server came back and a stop must not wait for that.
 */
export async function closeNats(nc: NatsConnection, deadlineMs = 2000): Promise<void> {
  if (nc.isClosed()) return;
  if (online.get(nc) !== false && !nc.isDraining()) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([nc.drain().catch(() => {}), deadline]);
    clearTimeout(timer);
  }
  if (!nc.isClosed()) await nc.close().catch(() => {});
}

/** Opens a JetStream KV bucket, creating it with `options` when it does not exist yet. */
export async function openKv(
  nc: NatsConnection,
  bucket: string,
  options: Partial<KvOptions> = {},
): Promise<KV> {
  try {
    return await new Kvm(nc).create(bucket, options);
  } catch (error) {
    throw new NatsError(`nats: cannot open KV bucket ${bucket}`, { cause: error });
  }
}

/**
 * Opens a bucket another role creates, without trying to create it (a reader's NATS user may not):
 * rejects with NatsError while the bucket does not exist yet, so callers retry.
 */
export async function openExistingKv(nc: NatsConnection, bucket: string): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const status = await (await kvm.open(bucket)).status();
    return await kvm.open(bucket, { allow_direct: status.streamInfo.config.allow_direct ?? false });
  } catch (error) {
    const missing = /stream not found/i.test((error as Error).message);
    throw new NatsError(
      missing
        ? `nats: KV bucket ${bucket} does not exist yet (the service that writes it creates it)`
        : `nats: cannot open KV bucket ${bucket}`,
      { cause: error },
    );
  }
}

async function readNatsToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new NatsError(`nats: token file ${file} cannot be read`, { cause: error });
  }
  const token = text.trim();
  if (token === "") throw new NatsError(`nats: token file ${file} is empty`);
  return token;
}
