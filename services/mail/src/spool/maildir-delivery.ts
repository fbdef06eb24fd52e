import { join } from "node:path";
import { MaildirDeliveryError, PlaceError } from "../errors.js";
import type { DirSyncer } from "./dir-sync.js";
import {
  type FileOps,
  isExisting,
  isMissing,
  type OpenDir,
  type WritableFile,
  writeAllButLast,
} from "./file-ops.js";
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
  /** Their `new/` handles for `FileOps.place`, by Maildir. */
  private readonly opened = new Map<string, Promise<OpenDir>>();

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

  /** A Maildir's `new/` handle, the Maildir made first if needed. */
  private newDir(dir: string): Promise<OpenDir> {
    let open = this.opened.get(dir);
    if (open) return open;
    open = this.ensure(dir).then(() => this.ops.openDir(join(dir, "new")));
    this.opened.set(dir, open);
    open.catch(() => this.forget(dir));
    return open;
  }

  /** Forgets that a Maildir was made (it was removed): made again on its next use. */
  private forget(dir: string): void {
    this.opened.delete(dir);
    this.made.delete(dir);
  }

  /**
   * The file's last bytes, its links and rename into every `new/` and their fsyncs (`FileOps.place`:
   * one work item natively), then the group-committed fsyncs of the `new/` directories it left.
   * A Maildir removed since it was made (ENOENT) is made again, once.
   */
  private async place(file: WritableFile, last: Uint8Array[], from: string, name: string, dirs: string[]) {
    let written = false;
    let placed = 0;
    const attempt = async () => {
      let handles: OpenDir[];
      try {
        handles = await Promise.all(dirs.map((d) => this.newDir(d)));
      } catch (err) {
        // A Maildir that cannot be made or opened: the caller spools the whole file from `from`.
        if (!written) await this.finish(file, last);
        written = true;
        throw new PlaceError("link", placed, { cause: err });
      }
      const [into, ...links] = handles;
      const request = { file, last: written ? undefined : last, from, name, links, into: into as OpenDir };
      try {
        return await this.ops.place(request);
      } catch (err) {
        // Anything else (a refused argument) was refused before this call did anything.
        if (!(err instanceof PlaceError))
          throw written
            ? new PlaceError("link", placed, { cause: err })
            : new PlaceError("write", 0, { cause: err });
        if (err.stage !== "write") written = true;
        // Links made by an earlier attempt are copies to remove as well.
        if (err.placed >= placed) throw err;
        throw new PlaceError(err.stage, placed, { cause: err.cause });
      }
    };
    let unsynced: OpenDir[];
    try {
      unsynced = await attempt();
    } catch (err) {
      const removed =
        err instanceof PlaceError &&
        err.code === "ENOENT" &&
        (err.stage === "link" || err.stage === "rename");
      if (!removed) throw err;
      // A Maildir (or its new/) removed since it was made: made again (the bytes are written).
      placed = err.placed;
      for (const dir of dirs) this.forget(dir);
      unsynced = await attempt();
    }
    try {
      await Promise.all(unsynced.map((d) => this.syncer.sync(d.path, () => d.sync())));
    } catch (err) {
      throw new PlaceError("sync", dirs.length - 1, { cause: err });
    }
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
    let written: { bytes: number; last: Uint8Array[] };
    try {
      written = await writeAllButLast(file, head, body);
    } catch (err) {
      await file.close().catch(() => {});
      await this.ops.unlink(tmpPath).catch(() => {});
      throw new MaildirDeliveryError("write", tmpPath, { cause: err });
    }
    const bytes = written.bytes;
    const name = maildirName(this.hostname, { id, createdAt: Date.now(), bytes });
    try {
      await this.place(file, written.last, tmpPath, name, dirs);
    } catch (err) {
      file.close().catch(() => {});
      if (err instanceof PlaceError && err.stage === "write") {
        await this.ops.unlink(tmpPath).catch(() => {});
        throw new MaildirDeliveryError("write", tmpPath, { cause: err });
      }
      // Not answered yet: copies left in place would be duplicates of the client's retry. The
      // links were made in order (dirs[1..]); the rename into dirs[0] only when all were.
      const placed = err instanceof PlaceError ? err.placed : 0;
      const renamed = err instanceof PlaceError && err.stage === "sync";
      for (const dir of dirs.slice(1, 1 + placed))
        await this.ops.unlink(join(dir, "new", name)).catch(() => {});
      if (renamed) await this.ops.rename(join(first, "new", name), tmpPath).catch(() => {});
      throw new MaildirDeliveryError("link", tmpPath, { cause: err });
    }
    file.close().catch(() => {});
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

  /** Writes and flushes the file's last bytes (when `place` cannot run). */
  private async finish(file: WritableFile, last: Uint8Array[]): Promise<void> {
    try {
      if (last.length > 0) await file.writev(last);
      await file.sync();
    } catch (err) {
      throw new PlaceError("write", 0, { cause: err });
    }
  }

  /** Opens the first spare file (at start, once `tmp/<owner>/` exists). */
  primeSpares(): void {
    this.spares?.prime();
  }

  /** Closes and removes the spare files (a clean exit). */
  async dropSpares(): Promise<void> {
    await this.spares?.dropAll();
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
