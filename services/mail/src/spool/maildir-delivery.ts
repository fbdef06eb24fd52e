import { join } from "node:path";
import { DirClosedError, MaildirDeliveryError, PlaceError } from "../errors.js";
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

/** `new/` directories kept open at most (least recently used closed first). */
const OPEN_DIRS = 256;

/**
 * The Maildirs under the spool root: made once per process and mailbox, linked into, and committed
 * with a group-committed fsync of `new/`.
 */
export class Maildirs {
  /** Maildirs whose directories this process has made (no mkdir per message). */
  private readonly made = new Set<string>();
  /** Their `new/`, kept open (by Maildir; most recently used last). */
  private readonly opened = new Map<string, Promise<OpenDir>>();
  /** The same, once open. */
  private readonly current = new Map<string, OpenDir>();

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

  /** A Maildir's `new/`, made if needed and kept open (at most OPEN_DIRS of them). */
  private newDir(dir: string): Promise<OpenDir> {
    let open = this.opened.get(dir);
    if (open) {
      this.opened.delete(dir);
      this.opened.set(dir, open);
      return open;
    }
    const opening = this.ensure(dir).then(() => this.ops.openDir(join(dir, "new")));
    this.opened.set(dir, opening);
    opening.then(
      (d) => {
        if (this.opened.get(dir) === opening) this.current.set(dir, d);
        else d.close().catch(() => {}); // forgotten while it opened
      },
      () => {
        if (this.opened.get(dir) === opening) this.opened.delete(dir);
      },
    );
    open = opening;
    if (this.opened.size > OPEN_DIRS) {
      const [oldest] = this.opened.keys();
      if (oldest !== undefined) this.forget(oldest);
    }
    return open;
  }

  /** Closes a Maildir's kept `new/` and forgets it was made (it was removed, or is least used). */
  private forget(dir: string): void {
    const open = this.opened.get(dir);
    this.opened.delete(dir);
    this.current.delete(dir);
    this.made.delete(dir);
    open?.then((d) => d.close()).catch(() => {});
  }

  /** `forget`, unless another message already put a newer handle in place of `handle`. */
  private forgetIf(dir: string, handle: OpenDir | undefined): void {
    if (handle !== undefined && this.current.get(dir) === handle) this.forget(dir);
  }

  /**
   * The file's last bytes, its links and rename into every `new/` and their fsyncs (`FileOps.place`:
   * one work item natively), then the group-committed fsyncs of the `new/` directories it left.
   * A Maildir removed since its `new/` was opened (ENOENT), or a handle closed under this message
   * (`DirClosedError`), is made or opened again, once.
   */
  private async place(file: WritableFile, last: Uint8Array[], from: string, name: string, dirs: string[]) {
    let written = false;
    let placed = 0;
    let handles: OpenDir[] = [];
    const attempt = async () => {
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
        if (err instanceof DirClosedError) throw err; // nothing was done: the retry takes fresh handles
        if (!(err instanceof PlaceError)) throw err;
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
      if (!removed && !(err instanceof DirClosedError)) throw err;
      if (removed) {
        // A Maildir removed since its new/ was opened: made and opened again (the bytes are written).
        placed = err.placed;
        for (const [i, h] of handles.entries()) this.forgetIf(dirs[i] as string, h);
      }
      // A handle closed under us (another message found it stale, or it was least used): a fresh one.
      unsynced = await attempt();
    }
    // A kept new/ that is no longer the directory at its path (moved, or made again): open it again.
    for (const [i, h] of handles.entries()) if (h.stale) this.forgetIf(dirs[i] as string, h);
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

  /** Closes and removes the spare files and closes the kept `new/` directories (a clean exit). */
  async dropSpares(): Promise<void> {
    for (const dir of [...this.opened.keys()]) this.forget(dir);
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
