import { join } from "node:path";
import type { QueueEntry } from "./queue-entry.js";

/** `<root>/<domain>/<user>`: the Maildir of a configured mailbox (addresses come from the config only). */
export function mailboxDir(root: string, mailbox: string): string {
  const at = mailbox.lastIndexOf("@");
  return join(root, mailbox.slice(at + 1), mailbox.slice(0, at));
}

/**
 * The Maildir file name of a spooled message: `<seconds>.<entry id>.<host>,S=<size>`. It derives
 * from the entry alone (every replica has the same `hostname`), so a delivery repeated after a crash
 * lands on the same name and is recognised; the size lets readers skip a stat.
 */
export function maildirName(hostname: string, entry: Pick<QueueEntry, "id" | "createdAt" | "bytes">): string {
  const seconds = Math.floor(entry.createdAt / 1000);
  return `${seconds}.${entry.id}.${hostname.replace(/[/:]/g, "_")},S=${entry.bytes}`;
}
