import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import type { AddressPolicy } from "./address-policy.js";
import { SmtpReply } from "./errors.js";
import type { MailMetrics } from "./metrics.js";
import { receivedHeader } from "./received-header.js";
import type { Spool } from "./spool.js";

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
 * DATA: spool the message (fsynced, file and directory), deliver it to the local Maildirs, and only
 * then answer 250. Any failure before that answers 4xx and leaves nothing delivered or half written.
 */
export async function takeMessage(
  deps: IntakeDeps,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  remote: string,
): Promise<string> {
  const mailboxes = session.envelope.rcptTo.flatMap((rcpt) => {
    const verdict = deps.policy.recipient(rcpt.address);
    return verdict.ok ? verdict.mailboxes : [];
  });
  let head = receivedHeader(session, remote, deps.hostname);
  let body: AsyncIterable<Uint8Array> = withinLimit(stream);
  if (deps.review) {
    const reviewed = await deps.review(await wholeMessage(body, stream, deps.metrics), session, remote);
    head = Buffer.concat([reviewed.headers, head]);
    body = only(reviewed.message);
  }
  let message: Awaited<ReturnType<Spool["receive"]>>;
  try {
    message = await deps.spool.receive(head, body);
  } catch (err) {
    if (stream.sizeExceeded) {
      deps.metrics.reject("size");
      throw tooLarge();
    }
    deps.metrics.reject("spool");
    deps.logger.warn({ err, session: session.id }, "message not spooled");
    throw new SmtpReply(451, "4.3.0 Message not stored, try again later", { cause: err });
  }
  try {
    await deps.spool.deliverLocal(message, mailboxes);
    await deps.spool.release(message);
  } catch (err) {
    deps.metrics.reject("spool");
    deps.logger.warn({ err, session: session.id, message: message.id }, "local delivery failed");
    throw new SmtpReply(451, "4.3.0 Message not delivered, try again later", { cause: err });
  }
  deps.metrics.messageAccepted(message.bytes);
  deps.logger.info(
    { session: session.id, message: message.id, bytes: message.bytes, mailboxes },
    "message accepted",
  );
  return `2.0.0 Ok: queued as ${message.id}`;
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
  return new SmtpReply(552, "5.3.4 Message too big");
}
