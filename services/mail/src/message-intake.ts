import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import type { AddressPolicy } from "./address-policy.js";
import { SmtpReply } from "./errors.js";
import type { MailMetrics } from "./metrics.js";
import { receivedHeader } from "./received-header.js";
import type { Spool } from "./spool.js";

export interface IntakeDeps {
  spool: Spool;
  policy: AddressPolicy;
  metrics: MailMetrics;
  hostname: string;
  logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
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
  const head = receivedHeader(session, remote, deps.hostname);
  let message: Awaited<ReturnType<Spool["receive"]>>;
  try {
    message = await deps.spool.receive(head, withinLimit(stream));
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

function tooLarge(): SmtpReply {
  return new SmtpReply(552, "5.3.4 Message too big");
}
