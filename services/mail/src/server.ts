import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { MailSection } from "@switchyard/config";
import type { mailV1 } from "@switchyard/proto";
import { grpcError, type ServiceImplementation, status } from "@switchyard/runtime";
import { mailboxDir } from "./maildir.js";

export interface MailAdminDeps {
  mail: MailSection;
  queueDir: string;
  activeSessions: () => number;
}

async function countEntries(dir: string, suffix?: string): Promise<number> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw grpcError(status.UNAVAILABLE, `cannot read ${dir}`, { cause: err });
  });
  return suffix ? names.filter((n) => n.endsWith(suffix)).length : names.length;
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
      return {
        queued: await countEntries(deps.queueDir, ".eml"),
        receiving: await countEntries(resolve(deps.queueDir, "tmp")),
        activeSessions: deps.activeSessions(),
        spool: resolve(mail.spool),
      };
    },
  };
}
