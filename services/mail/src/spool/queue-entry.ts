import { QueueEntryError } from "../errors.js";

/** Where one recipient stands: delivered (local or relayed), failed for good, or still to do. */
export type RecipientStatus = "pending" | "delivered" | "failed";

/** One recipient of a spooled message, with its own delivery state. */
export interface QueueRecipient {
  /** The RCPT TO address as accepted (what a DSN calls the original recipient). */
  original: string;
  /** Where this copy goes: a local mailbox, or a remote address. */
  address: string;
  /** Set for local delivery: the mailbox whose Maildir gets the message. */
  mailbox?: string;
  /** Set by a `forward` rule with a relay: `host:port` to hand the message to instead of the MX. */
  relay?: string;
  status: RecipientStatus;
  attempts: number;
  /** The last reply or error, for `yardctl mail queue` and the DSN. */
  lastError?: string;
  /** The host that gave the last reply. */
  remoteMta?: string;
  /** A failed recipient the sender was told about (a DSN went out). */
  bounced?: boolean;
}

/** A message's envelope and delivery state: `entry.json` beside the `message` file. */
export interface QueueEntry {
  id: string;
  /** Envelope sender; "" is the null sender (a bounce), which is never bounced again. */
  from: string;
  createdAt: number;
  bytes: number;
  recipients: QueueRecipient[];
  /** Delivery rounds run so far for remote recipients. */
  attempts: number;
  nextAttemptAt: number;
}

/** The recipients still to deliver locally / remotely. */
export function pendingLocal(entry: QueueEntry): QueueRecipient[] {
  return entry.recipients.filter((r) => r.status === "pending" && r.mailbox !== undefined);
}

export function pendingRemote(entry: QueueEntry): QueueRecipient[] {
  return entry.recipients.filter((r) => r.status === "pending" && r.mailbox === undefined);
}

export function encodeEntry(entry: QueueEntry): Buffer {
  return Buffer.from(`${JSON.stringify(entry)}\n`);
}

/** Parses `entry.json`; throws on anything that is not an entry (the caller decides what to do). */
export function decodeEntry(bytes: Buffer): QueueEntry {
  const entry = JSON.parse(bytes.toString("utf8")) as QueueEntry;
  if (
    typeof entry?.id !== "string" ||
    typeof entry.from !== "string" ||
    !Array.isArray(entry.recipients) ||
    typeof entry.createdAt !== "number"
  ) {
    throw new QueueEntryError("not a queue entry");
  }
  entry.attempts ??= 0;
  entry.nextAttemptAt ??= 0;
  return entry;
}
