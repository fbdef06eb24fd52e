import { resolve } from "node:path";
import type { MailSection } from "@switchyard/config";
import type { mailV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { mailboxDir } from "./spool/maildir.js";
import type { Spool } from "./spool/spool.js";
import { listSpool, spoolCounts } from "./spool/spool-listing.js";

export interface MailAdminDeps {
  mail: MailSection;
  spool: Spool;
  activeSessions: () => number;
  /** Tells this replica's queue to look for due messages now. */
  kickQueue?: () => void;
}

function unavailable(what: string, err: unknown): never {
  throw grpcError(status.UNAVAILABLE, `cannot read the spool (${what})`, { cause: err });
}

/** MailAdmin: mailboxes, the shared queue (list and flush). */
export function createMailAdmin(deps: MailAdminDeps): ServiceImplementation<mailV1.MailAdminService> {
  const { mail } = deps;
  return {
    listMailboxes() {
      const aliasesOf = (address: string) =>
        Object.entries(mail.aliases)
          .filter(([, targets]) => targets.includes(address))
          .map(([alias]) => alias);
      return {
        mailboxes: mail.mailboxes.map((box) => ({
          address: box.address,
          maildir: resolve(mailboxDir(mail.spool, box.address)),
          canAuthenticate: box.passwordHash !== undefined,
          aliases: aliasesOf(box.address),
        })),
        domains: mail.domains,
        catchAll: mail.catchAll ?? "",
      };
    },
    async queueStatus() {
      const counts = await spoolCounts(deps.spool).catch((err: unknown) => {
        throw grpcError(status.UNAVAILABLE, `cannot read the spool ${deps.spool.queueDir}`, { cause: err });
      });
      return { ...counts, activeSessions: deps.activeSessions(), spool: resolve(mail.spool) };
    },
    async listMessages() {
      const all = await listSpool(deps.spool).catch((err: unknown) => unavailable("list", err));
      return {
        messages: all.map(({ entry, dueAt, owner }) => ({
          id: entry.id,
          sender: entry.from,
          recipients: entry.recipients.map((r) => ({
            address: r.address,
            original: r.original,
            status: r.status,
            attempts: r.attempts,
            lastError: r.lastError ?? "",
            relay: r.relay ?? "",
            local: r.mailbox !== undefined,
          })),
          attempts: entry.attempts,
          nextAttemptAtMs: dueAt ?? 0,
          lastError: entry.recipients.find((r) => r.status === "pending" && r.lastError)?.lastError ?? "",
          createdAtMs: entry.createdAt,
          bytes: entry.bytes,
          state: owner === undefined ? "waiting" : "delivering",
          owner: owner ?? "",
        })),
      };
    },
    async flushQueue(request) {
      const wanted = new Set(request.ids);
      const ready = await deps.spool.listReady().catch((err: unknown) => unavailable("flush", err));
      let flushed = 0;
      for (const entry of ready) {
        if (wanted.size > 0 && !wanted.has(entry.id)) continue;
        if (entry.dueAt !== 0 && (await deps.spool.makeDue(entry, 0))) flushed++;
        else if (entry.dueAt === 0) flushed++;
      }
      if (wanted.size > 0 && flushed === 0) {
        throw grpcError(
          status.NOT_FOUND,
          `no waiting message ${[...wanted].join(", ")} (delivered, or being delivered)`,
        );
      }
      deps.kickQueue?.();
      return { flushed };
    },
  };
}
