import { join } from "node:path";
import { decodeEntry, type QueueEntry } from "./queue-entry.js";
import { isSpareName } from "./spare-files.js";
import type { Spool } from "./spool.js";
import { ENTRY } from "./spool-layout.js";

/* Read-only views of the whole spool for the admin API (QueueStatus, ListQueue). */

/** Counts for QueueStatus: entries committed (waiting or being delivered) and being received. */
export async function spoolCounts(spool: Spool): Promise<{ queued: number; receiving: number }> {
  let queued = (await spool.listReady()).length;
  let receiving = 0;
  for (const owner of await spool.fileOps.list(spool.workRoot)) {
    queued += (await spool.fileOps.list(join(spool.workRoot, owner))).length;
  }
  for (const owner of await spool.fileOps.list(spool.tmpRoot)) {
    const names = await spool.fileOps.list(join(spool.tmpRoot, owner));
    receiving += names.filter((name) => !isSpareName(name)).length;
  }
  return { queued, receiving };
}

/**
 * Every committed entry for listings: waiting ones in `ready/` (with their due time) and those a
 * replica is delivering (with its owner). Entries that move while being read are skipped.
 */
export async function listSpool(
  spool: Spool,
): Promise<Array<{ entry: QueueEntry; dueAt?: number; owner?: string }>> {
  const out: Array<{ entry: QueueEntry; dueAt?: number; owner?: string }> = [];
  for (const ready of await spool.listReady()) {
    const entry = await spool.peek(ready);
    if (entry) out.push({ entry, dueAt: ready.dueAt });
  }
  for (const owner of await spool.fileOps.list(spool.workRoot)) {
    for (const id of await spool.fileOps.list(join(spool.workRoot, owner))) {
      try {
        out.push({
          entry: decodeEntry(await spool.fileOps.read(join(spool.workRoot, owner, id, ENTRY))),
          owner,
        });
      } catch {
        // moved on meanwhile, or half written: not listed
      }
    }
  }
  return out.sort((a, b) => a.entry.createdAt - b.entry.createdAt);
}
