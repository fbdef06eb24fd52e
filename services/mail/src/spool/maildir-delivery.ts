import { join } from "node:path";
import { MaildirDeliveryError } from "../errors.js";
import type { DirSyncer } from "./dir-sync.js";
import { type FileOps, isExisting, isMissing, type WritableFile, writeBatched } from "./file-ops.js";
import { mailboxDir, maildirName } from "./maildir.js";
import type { SpareFiles } from "./spare-files.js";

/** A message written straight into the Maildirs of its local recipients. */
export interface MaildirCopy {
  id: string;
  bytes: number;
  /** The file name in every `new/`. */
  name: string;
}

/**
 * The Maildirs under the spool root: made once per process and mailbox, linked into, and committed
 * with a group-committed fsync of `new/`.
 */
export class Maildirs {
  /** Maildirs whose directories this process has made (no mkdir per message). */
  private readonly made = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly ops: FileOps,
    private readonly hostname: string,
    private readonly syncer: DirSyncer,
    /** This replica's spool owner name: the prefix of its files in the Maildirs' `tmp/`. */
    private readonly owner: string,
    /** Files opened ahead on the same file system; without, every message creates its own. */
    private readonly spares?: SpareFiles,
  ) {}

  dirOf(mailbox: string): string {
    return mailboxDir(this.root, mailbox);
  }

  /** Creates a Maildir's three directories (once per process and mailbox while they exist). */
  async ensure(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await this.ops.mkdir(join(dir, "tmp"));
    await this.ops.mkdir(join(dir, "new"));
    await this.ops.mkdir(join(dir, "cur"));
    this.made.add(dir);
  }

  /**
   * Hard-links a complete, fsynced file into `new/` (not yet durable: `commit`). A name already
   * there is a delivery done before a crash: nothing to do. A Maildir removed since it was made is
   * made again.
   */
  async link(path: string, dir: string, name: string): Promise<void> {
    await this.ensure(dir);
    const link = () =>
      this.ops.link(path, join(dir, "new", name)).catch((err: unknown) => {
        if (!isExisting(err)) throw err;
      });
    try {
      await link();
    } catch (err) {
      if (!isMissing(err)) throw err;
      this.made.delete(dir);
      await this.ensure(dir);
      await link();
    }
  }

  /** Makes the names put into `new/` before this call durable (one fsync shared by concurrent callers). */
  commit(dir: string): Promise<void> {
    return this.syncer.sync(join(dir, "new"));
  }

  /**
   * Delivers a message being received straight into the Maildirs of `mailboxes` (at least one):
   * written once into a spare file opened ahead (`SpareFiles`) or, when none is ready, under the
   * first Maildir's `tmp/` (as `<owner>.<id>`), fsynced, linked into every other `new/` and renamed
   * into the first one's, then `new/` fsynced. When this returns, every copy is durable.
   *
   * Throws `DeliveryError` with `stage`: "open" when not a byte was read yet (the caller may spool
   * `body` instead), "write" when the message could not be written (nothing is left behind), and
   * "link" when the complete file could not be put in every `new/`: the copies made are removed
   * again and the whole file is left at `tmpPath` for the caller to take, then `discardTmp`.
   */
  async deliver(
    head: Uint8Array,
    body: AsyncIterable<Uint8Array>,
    mailboxes: readonly string[],
    id: string,
  ): Promise<MaildirCopy> {
    const dirs = mailboxes.map((m) => this.dirOf(m));
    const first = dirs[0] as string;
    let tmpPath = join(first, "tmp", `${this.owner}.${id}`);
    let file: WritableFile;
    try {
      await this.ensure(first);
      const spare = await this.spares?.take();
      if (spare) ({ path: tmpPath, file } = spare);
      else file = await this.create(first, tmpPath);
    } catch (err) {
      throw new MaildirDeliveryError("open", tmpPath, { cause: err });
    }
    let bytes = 0;
    try {
      bytes = await writeBatched(file, head, body);
      await file.sync();
    } catch (err) {
      await file.close().catch(() => {});
      await this.ops.unlink(tmpPath).catch(() => {});
      throw new MaildirDeliveryError("write", tmpPath, { cause: err });
    }
    file.close().catch(() => {});
    const name = maildirName(this.hostname, { id, createdAt: Date.now(), bytes });
    const others = dirs.slice(1);
    const placed: string[] = [];
    try {
      await Promise.all(
        others.map(async (dir) => {
          await this.link(tmpPath, dir, name);
          placed.push(dir);
        }),
      );
      await this.ops.rename(tmpPath, join(first, "new", name)).catch(async (err: unknown) => {
        if (!isMissing(err)) throw err;
        // `new/` was removed since the Maildir was made: make it again (a missing tmp file fails again).
        this.made.delete(first);
        await this.ensure(first);
        await this.ops.rename(tmpPath, join(first, "new", name));
      });
      placed.push(first);
      await Promise.all(dirs.map((dir) => this.commit(dir)));
    } catch (err) {
      // Not answered yet: copies left in place would be duplicates of the client's retry.
      for (const dir of placed) {
        if (dir === first) await this.ops.rename(join(dir, "new", name), tmpPath).catch(() => {});
        else await this.ops.unlink(join(dir, "new", name)).catch(() => {});
      }
      throw new MaildirDeliveryError("link", tmpPath, { cause: err });
    }
    return { id, bytes, name };
  }

  private create(first: string, tmpPath: string): Promise<WritableFile> {
    return this.ops.create(tmpPath).catch(async (err: unknown) => {
      if (!isMissing(err)) throw err;
      this.made.delete(first);
      await this.ensure(first);
      return this.ops.create(tmpPath);
    });
  }

  /** Opens the first spare file (at start, once `tmp/<owner>/` exists). */
  primeSpares(): void {
    this.spares?.prime();
  }

  /** Closes and removes the spare files (a clean exit). */
  dropSpares(): Promise<void> {
    return this.spares?.dropAll() ?? Promise.resolve();
  }

  /**
   * Removes what a replica that is gone was writing into Maildir `tmp/` directories (its clients
   * got no 250); returns how many files. Walks `<root>/<domain>/<user>/tmp`, only when a dead
   * replica is found.
   */
  async dropPartial(owner: string, queueDir: string): Promise<number> {
    let dropped = 0;
    for (const domain of await this.ops.list(this.root)) {
      const domainDir = join(this.root, domain);
      if (domainDir === queueDir) continue;
      for (const user of await this.ops.list(domainDir).catch(() => [] as string[])) {
        const tmp = join(domainDir, user, "tmp");
        for (const name of await this.ops.list(tmp).catch(() => [] as string[])) {
          if (!name.startsWith(`${owner}.`)) continue;
          await this.ops.unlink(join(tmp, name)).catch(() => {});
          dropped++;
        }
      }
    }
    return dropped;
  }
}
