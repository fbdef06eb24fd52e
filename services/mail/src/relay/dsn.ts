import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import type { Logger } from "@switchyard/runtime";
import { dispatch, routeRecipients } from "../intake/message-intake.js";
import type { AddressPolicy } from "../smtp/address-policy.js";
import type { QueueEntry, QueueRecipient } from "../spool/queue-entry.js";
import type { Spool } from "../spool/spool.js";
import type { Bouncer } from "./relay-queue.js";

/** How much of the original message a DSN reads for its headers (RFC 3462 text/rfc822-headers). */
const HEADER_LIMIT = 64 * 1024;

/** The enhanced status code (RFC 3463) for a failed recipient: from its last reply, or a fitting default. */
export function statusOf(recipient: QueueRecipient): string {
  const text = recipient.lastError ?? "";
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
  if (enhanced?.startsWith("5") || enhanced?.startsWith("4")) return enhanced;
  if (/^5\d\d\b/.test(text)) return "5.0.0";
  if (text.startsWith("expired")) return "4.4.7";
  return "5.0.0";
}

function oneLine(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 900);
}

/**
 * An RFC 3464 delivery status notification: `multipart/report; report-type=delivery-status` with a
 * human-readable part, the `message/delivery-status` fields per failed recipient, and the original
 * message's headers. Sent with the null sender, so it is never bounced itself.
 */
export function buildDsn(options: {
  hostname: string;
  entry: QueueEntry;
  failed: readonly QueueRecipient[];
  originalHeaders: Buffer;
  now?: Date;
}): Buffer {
  const { hostname, entry, failed } = options;
  const now = options.now ?? new Date();
  const boundary = `dsn-${randomBytes(12).toString("hex")}`;
  const human = failed.map((r) => `  <${r.address}>: ${oneLine(r.lastError ?? "failed")}`).join("\r\n");
  const perRecipient = failed
    .map((r) => {
      const fields = [`Final-Recipient: rfc822; ${r.address}`];
      if (r.original !== r.address) fields.push(`Original-Recipient: rfc822; ${r.original}`);
      fields.push("Action: failed", `Status: ${statusOf(r)}`);
      if (r.remoteMta) fields.push(`Remote-MTA: dns; ${r.remoteMta}`);
      const reply = oneLine(r.lastError ?? "");
      fields.push(
        /^\d{3}[ -]/.test(reply)
          ? `Diagnostic-Code: smtp; ${reply}`
          : `Diagnostic-Code: x-switchyard; ${reply}`,
      );
      fields.push(`Last-Attempt-Date: ${now.toUTCString()}`);
      return fields.join("\r\n");
    })
    .join("\r\n\r\n");
  const text = [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${entry.from}>`,
    "Subject: Undelivered Mail Returned to Sender",
    `Date: ${now.toUTCString()}`,
    `Message-ID: <${entry.id}.${randomBytes(4).toString("hex")}.dsn@${hostname}>`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    "",
    "This is a MIME-encapsulated message.",
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `This is the mail system at ${hostname}.`,
    "",
    "Your message could not be delivered to one or more recipients:",
    "",
    human,
    "",
    `--${boundary}`,
    "Content-Type: message/delivery-status",
    "",
    `Reporting-MTA: dns; ${hostname}`,
    `X-Switchyard-Queue-ID: ${entry.id}`,
    `Arrival-Date: ${new Date(entry.createdAt).toUTCString()}`,
    "",
    perRecipient,
    "",
    `--${boundary}`,
    "Content-Type: text/rfc822-headers",
    "",
  ].join("\r\n");
  return Buffer.concat([
    Buffer.from(`${text}\r\n`, "latin1"),
    options.originalHeaders,
    Buffer.from(`\r\n--${boundary}--\r\n`, "latin1"),
  ]);
}

/** The header block of a spooled message (up to the empty line, at most 64 KB), CRLF-terminated. */
export async function readHeaders(path: string): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(HEADER_LIMIT);
    const { bytesRead } = await file.read(buffer, 0, HEADER_LIMIT, 0);
    const head = buffer.subarray(0, bytesRead);
    const end = head.indexOf("\r\n\r\n");
    if (end >= 0) return head.subarray(0, end + 2);
    const lastLine = head.lastIndexOf("\r\n");
    return lastLine >= 0 ? head.subarray(0, lastLine + 2) : Buffer.alloc(0);
  } finally {
    await file.close();
  }
}

/**
 * The queue's bouncer: spools a DSN from `<>` to the original sender and dispatches it like any
 * message (local Maildir, or the relay queue for a remote sender).
 */
export function createBouncer(deps: {
  spool: Spool;
  policy: AddressPolicy;
  hostname: string;
  queue: { kick(): void };
  logger: Pick<Logger, "info" | "warn">;
}): Bouncer {
  return async (message, failed) => {
    const recipients = routeRecipients(deps.policy, [message.entry.from], true);
    if (recipients.length === 0) {
      deps.logger.warn(
        { message: message.id, sender: message.entry.from },
        "no route to the sender; DSN dropped",
      );
      return;
    }
    const dsn = buildDsn({
      hostname: deps.hostname,
      entry: message.entry,
      failed,
      originalHeaders: await readHeaders(message.path),
    });
    const spooled = await deps.spool.receive(
      Buffer.alloc(0),
      (async function* () {
        yield dsn;
      })(),
      { from: "", recipients },
    );
    const result = await dispatch({ spool: deps.spool, queue: deps.queue, logger: deps.logger }, spooled);
    deps.logger.info(
      {
        message: message.id,
        dsn: spooled.id,
        sender: message.entry.from,
        failed: failed.map((r) => r.address),
        result,
      },
      "delivery status notification sent",
    );
  };
}
