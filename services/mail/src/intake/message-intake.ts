import { createReadStream } from "node:fs";
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import { MaildirDeliveryError, SmtpReply } from "../errors.js";
import type { MailMetrics } from "../metrics.js";
import type { AddressPolicy } from "../smtp/address-policy.js";
import { receivedHeader } from "../smtp/received-header.js";
import type { Spool } from "../spool/spool.js";
import { type NewRecipient, newId, type SpooledMessage } from "../spool/spool-layout.js";

/**
 * Looks at a whole message before it is spooled (inbound verification on 25, DKIM signing on
 * 587/465): returns the header fields to put on top and the message to store, or throws SmtpReply.
 */
export type MessageReview = (
  message: Buffer,
  session: SMTPServerSession,
  remote: string,
) => Promise<{ headers: Buffer; message: Buffer }>;

export interface IntakeDeps {
  spool: Spool;
  /** Told when a message waits in the queue (remote recipients, or a local delivery to retry). */
  queue?: { kick(): void };
  policy: AddressPolicy;
  metrics: MailMetrics;
  hostname: string;
  logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  review?: MessageReview | undefined;
}

/**
 * Yields the message while it is within the limit; past it, reads the rest without keeping it and
 * fails at the end, so the spool drops its temporary file (smtp-server answers 552 itself).
 */
async function* withinLimit(stream: SMTPServerDataStream): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!stream.sizeExceeded) yield chunk;
  }
  if (stream.sizeExceeded) throw tooLarge();
}

/**
 * DATA: a message for local mailboxes only goes straight into their Maildirs (fsynced, file and
 * `new/`); any other is spooled with its envelope (fsynced, file and directory), delivered to its
 * local Maildirs and handed to the queue; then 250. A failure before the commit answers 4xx and
 * leaves nothing; after it the message is safe: what could not be delivered yet waits in the queue.
 */
export async function takeMessage(
  deps: IntakeDeps,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  remote: string,
): Promise<string> {
  const recipients = routeRecipients(
    deps.policy,
    session.envelope.rcptTo.map((r) => r.address),
    isAuthenticated(session),
  );
  const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
  let head: Uint8Array = receivedHeader(session, remote, deps.hostname);
  let body: AsyncIterable<Uint8Array> = withinLimit(stream);
  if (deps.review) {
    const reviewed = await deps.review(await wholeMessage(body, stream, deps.metrics), session, remote);
    head = Buffer.concat([reviewed.headers, head]);
    body = only(reviewed.message);
  }
  const id = newId();
  const mailboxes = onlyMailboxes(recipients);
  if (mailboxes) {
    const direct = await deliverDirect(deps, stream, session, { head, body, mailboxes, id });
    if (direct.done) {
      deps.metrics.messageAccepted(direct.bytes);
      deps.logger.info(
        {
          session: session.id,
          message: id,
          bytes: direct.bytes,
          recipients: recipients.length,
          result: "delivered",
        },
        "message accepted",
      );
      return `2.0.0 Ok: queued as ${id}`;
    }
    head = direct.head;
    body = direct.body;
  }
  let message: SpooledMessage;
  try {
    message = await deps.spool.receive(head, body, { from, recipients }, id);
  } catch (err) {
    if (stream.sizeExceeded) {
      deps.metrics.reject("size");
      throw tooLarge();
    }
    deps.metrics.reject("spool");
    deps.logger.warn({ err, session: session.id }, "message not spooled");
    throw new SmtpReply(451, "4.3.0", "Message not stored, try again later", { cause: err });
  }
  const result = await dispatch(deps, message);
  deps.metrics.messageAccepted(message.bytes);
  deps.logger.info(
    { session: session.id, message: message.id, bytes: message.bytes, recipients: recipients.length, result },
    "message accepted",
  );
  return `2.0.0 Ok: queued as ${message.id}`;
}

/** The distinct mailboxes when every recipient is local; undefined when one must be relayed. */
function onlyMailboxes(recipients: readonly NewRecipient[]): string[] | undefined {
  if (recipients.length === 0 || recipients.some((r) => r.mailbox === undefined)) return undefined;
  return [...new Set(recipients.map((r) => r.mailbox as string))];
}

/**
 * The fast path for a message whose recipients are all local: written once, straight into their
 * Maildirs, and fsynced (file and `new/`) before the 250; the spool is not involved. When a Maildir
 * cannot take it, the message goes through the spool instead (its local delivery is then retried
 * from the queue): `done: false` with what to spool. Throws SmtpReply when the message cannot be
 * stored at all (too large, or the disk refused it).
 */
async function deliverDirect(
  deps: IntakeDeps,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  message: { head: Uint8Array; body: AsyncIterable<Uint8Array>; mailboxes: string[]; id: string },
): Promise<
  { done: true; bytes: number } | { done: false; head: Uint8Array; body: AsyncIterable<Uint8Array> }
> {
  try {
    const copy = await deps.spool.maildirs.deliver(message.head, message.body, message.mailboxes, message.id);
    return { done: true, bytes: copy.bytes };
  } catch (err) {
    if (stream.sizeExceeded) {
      deps.metrics.reject("size");
      throw tooLarge();
    }
    if (!(err instanceof MaildirDeliveryError) || err.stage === "write") {
      deps.metrics.reject("spool");
      deps.logger.warn({ err, session: session.id }, "message not stored");
      throw new SmtpReply(451, "4.3.0", "Message not stored, try again later", { cause: err });
    }
    deps.logger.warn({ err, session: session.id, message: message.id }, "Maildir delivery failed; spooling");
    if (err.stage === "open") return { done: false, head: message.head, body: message.body };
    // The whole message is in the Maildir's tmp/: the spool takes it from there, then it goes.
    const tmpPath = err.tmpPath;
    async function* fromTmp(): AsyncGenerator<Uint8Array> {
      try {
        yield* createReadStream(tmpPath) as AsyncIterable<Buffer>;
      } finally {
        deps.spool.fileOps.unlink(tmpPath).catch(() => {});
      }
    }
    return { done: false, head: new Uint8Array(0), body: fromTmp() };
  }
}

/** True when the session logged in (submission): its recipients may be anywhere. */
export function isAuthenticated(session: SMTPServerSession): boolean {
  return typeof session.user === "string" && session.user !== "";
}

/** The spool recipients for accepted RCPT TO addresses: local mailboxes and remote targets. */
export function routeRecipients(
  policy: AddressPolicy,
  addresses: readonly string[],
  authenticated: boolean,
): NewRecipient[] {
  return addresses.flatMap((original) => {
    const verdict = policy.recipient(original, { authenticated });
    if (!verdict.ok) return [];
    return [
      ...verdict.mailboxes.map((m) => ({ original, address: m, mailbox: m })),
      ...(verdict.remote ?? []).map((r) => ({
        original,
        address: r.address,
        ...(r.relay ? { relay: r.relay } : {}),
      })),
    ];
  });
}

/**
 * Delivers a just-committed message locally and hands the rest to the queue. Never throws: the
 * message is durable, so whatever fails here is retried by the queue (or the recovery sweep).
 * Settling (removing the entry, or moving it to `ready/`) is not needed before the 250 and runs
 * after it: an entry left by a crash is delivered again by recovery, and the Maildir name derived
 * from the entry id makes that repeat a no-op.
 */
export async function dispatch(
  deps: Pick<IntakeDeps, "spool" | "queue" | "logger">,
  message: SpooledMessage,
): Promise<"delivered" | "queued"> {
  try {
    await deps.spool.deliverLocal(message);
  } catch (err) {
    deps.logger.warn({ err, message: message.id }, "local delivery failed; queued for retry");
  }
  const pending = message.entry.recipients.some((r) => r.status === "pending");
  deps.spool.settle(message).then(
    (result) => {
      if (result === "queued") deps.queue?.kick();
    },
    (err: unknown) => {
      deps.spool.letGo(message);
      deps.logger.warn(
        { err, message: message.id },
        "cannot settle a spooled message; recovery will retry it",
      );
    },
  );
  return pending ? "queued" : "delivered";
}

async function* only(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
}

/** The message in one Buffer (bounded by the size limit: past it, 552 and nothing kept). */
async function wholeMessage(
  body: AsyncIterable<Uint8Array>,
  stream: SMTPServerDataStream,
  metrics: MailMetrics,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk);
  } catch (err) {
    if (!stream.sizeExceeded) throw err;
    metrics.reject("size");
    throw tooLarge();
  }
  return Buffer.concat(chunks);
}

function tooLarge(): SmtpReply {
  return new SmtpReply(552, "5.3.4", "Message too big");
}
