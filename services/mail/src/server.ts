import { resolve } from "node:path";
import type { MailSection } from "@switchyard/config";
import type { mailV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { mailboxDir } from "./maildir.js";
import type { Spool } from "./spool.js";

export interface MailAdminDeps {
  mail: MailSection;
  spool: Spool;
  activeSessions: () => number;
}

/** MailAdmin: mailboxes and the spool, read-only for now. */
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
      const counts = await deps.spool.counts().catch((err: unknown) => {
        throw grpcError(status.UNAVAILABLE, `cannot read the spool ${deps.spool.queueDir}`, { cause: err });
      });
      return { ...counts, activeSessions: deps.activeSessions(), spool: resolve(mail.spool) };
    },
  };
}
