import { join } from "node:path";
import type { FileOps, WritableFile } from "./file-ops.js";
import { newId } from "./spool-layout.js";

/** A file opened ahead, empty, waiting for a message. */
export interface SpareFile {
  path: string;
  file: WritableFile;
}

/** Spare files' names start with this (in the spool's `tmp/<owner>/`, beside entry directories). */
const SPARE_PREFIX = "spare.";

/** True for a spare file's name: not a message being received. */
export function isSpareName(name: string): boolean {
  return name.startsWith(SPARE_PREFIX);
}

/**
 * The file for the next message, opened ahead, so creating it (an inode allocation and a
 * thread-pool round trip: 0.6 ms on the bench machine, more when the disk is busy) is not on a
 * sender's way to the 250. With one or a few senders it was: DATA's body is in before the open
 * returns. Each message takes the spare (waiting for it if it is still being opened: that started
 * when the message before took its own, so never later than this message's own open would) and
 * starts opening the next one. One spare at a time: at most one open file and one empty file.
 *
 * The spare lives in this replica's spool `tmp/<owner>/` (the file system of the Maildirs: a
 * message is renamed from there into a Maildir's `new/`, as spooled messages are linked there), so
 * a replica that dies leaves it where recovery removes its partial files anyway; `dropAll` removes
 * it on a clean exit. No Maildir reader looks there.
 */
export class SpareFiles {
  private next: Promise<SpareFile | undefined> | undefined;
  private closed = false;
  /** Spares opened, and spares a message was written into (for tests). */
  opened = 0;
  taken = 0;

  constructor(
    private readonly ops: Pick<FileOps, "create" | "unlink">,
    /** Where spares are created (this replica's spool tmp/). */
    private readonly dir: string,
  ) {}

  /**
   * Opens the first spare (at start), so the first message finds one too and the replica's open
   * files are the same before its first message as after any (the soak compares fd counts).
   */
  prime(): void {
    if (!this.next && !this.closed) this.next = this.open();
  }

  /** The spare, or undefined when none was being opened (or it could not be); starts the next one. */
  async take(): Promise<SpareFile | undefined> {
    const next = this.next;
    this.next = this.closed ? undefined : this.open();
    const spare = await next;
    if (spare) this.taken++;
    return spare;
  }

  private open(): Promise<SpareFile | undefined> {
    const path = join(this.dir, `${SPARE_PREFIX}${newId()}`);
    // Its one write (most messages) is also its flush: no fsync round trip after the dot.
    return this.ops.create(path, { durableWrites: true }).then(
      (file) => {
        this.opened++;
        return { path, file };
      },
      // Cannot open one now (disk full, tmp/ gone): the next message creates its own and reports why.
      () => undefined,
    );
  }

  /** Closes and removes the spare, and opens no more (a clean exit). */
  async dropAll(): Promise<void> {
    this.closed = true;
    const spare = await this.next;
    this.next = undefined;
    if (!spare) return;
    await spare.file.close().catch(() => {});
    await this.ops.unlink(spare.path).catch(() => {});
  }
}
