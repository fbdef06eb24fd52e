import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** `<root>/<domain>/<user>`: the Maildir of a configured mailbox (addresses come from the config only). */
export function mailboxDir(root: string, mailbox: string): string {
  const at = mailbox.lastIndexOf("@");
  return join(root, mailbox.slice(at + 1), mailbox.slice(0, at));
}

/** A unique Maildir file name: `<seconds>.<random>.<host>,S=<size>` (the size lets readers skip a stat). */
export function maildirName(hostname: string, size: number): string {
  const seconds = Math.floor(Date.now() / 1000);
  return `${seconds}.R${randomBytes(8).toString("hex")}P${process.pid}.${hostname.replace(/[/:]/g, "_")},S=${size}`;
}
