import { randomBytes } from "node:crypto";
import { hostname as osHostname } from "node:os";
import type { WritableFile } from "./file-ops.js";
import type { QueueEntry, QueueRecipient } from "./queue-entry.js";

/* The spool's names: what an entry is called on disk, who owns it, how ids are made. */

/** A message the spool holds durably: its directory is complete, fsynced and committed. */
export interface SpooledMessage {
  id: string;
  /** The entry's directory (`work/<owner>/<id>` while this replica holds it). */
  dir: string;
  /** The message bytes (`<dir>/message`). */
  path: string;
  bytes: number;
  entry: QueueEntry;
}

/** What the receiving side knows about a recipient before any delivery. */
export type NewRecipient = Omit<QueueRecipient, "status" | "attempts">;

/** A queue entry waiting in `ready/`: its directory name carries when it is due. */
export interface ReadyName {
  name: string;
  id: string;
  dueAt: number;
}

/** The files of an entry directory. */
export const ENTRY = "entry.json";
export const MESSAGE = "message";

/** A name for this process in the spool: readable, and unique even for replicas sharing a name. */
export function ownerName(instance = osHostname()): string {
  const safe = instance.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60) || "mail";
  return `${safe}.${process.pid}.${randomBytes(3).toString("hex")}`;
}

/**
 * Closes a file whose data is already fsynced without waiting for it: nothing after depends on the
 * close (a rename or link works on an open file), so it leaves the path to the 250.
 */
export function closeLater(file: WritableFile): void {
  file.close().catch(() => {});
}

/** This process's part of every id: random, so replicas never collide without coordinating. */
const ID_PREFIX = randomBytes(5).toString("hex");
let idCounter = 0;

/** Sortable by time of arrival, unique without coordination (no random bytes drawn per message). */
export function newId(): string {
  idCounter = (idCounter + 1) % 0x100000;
  return `${Date.now().toString(36)}${ID_PREFIX}${idCounter.toString(16).padStart(5, "0")}`;
}
