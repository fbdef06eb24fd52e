import { join } from "node:path";
import { DeliveryError, QueueEntryError, SpoolWriteError } from "../errors.js";
import { DirSyncer } from "./dir-sync.js";
import {
  type FileOps,
  isExisting,
  isMissing,
  nodeFileOps,
  type WritableFile,
  writeBatched,
} from "./file-ops.js";
import { maildirName } from "./maildir.js";
import { Maildirs } from "./maildir-delivery.js";
import {
  decodeEntry,
  encodeEntry,
  pendingLocal,
  type QueueEntry,
  type QueueRecipient,
} from "./queue-entry.js";
import { SpareFiles } from "./spare-files.js";
import {
  closeLater,
  ENTRY,
  MESSAGE,
  type NewRecipient,
  newId,
  ownerName,
  type ReadyName,
  type SpooledMessage,
} from "./spool-layout.js";

/**
 * The durable spool under `<root>/queue`, shared by every replica:
 *
 * - `tmp/<owner>/<id>/` a message being received (`message` + `entry.json`);
 * - `tmp/<owner>/spare.<id>` files opened ahead for messages delivered straight into Maildirs;
 * - `work/<owner>/<id>/` committed and held by one live replica (delivering it now);
 * - `ready/<id>@<dueMs>/` committed and waiting (relay retries, or recovered from a dead replica);
 * - `owners/<owner>` each live replica's lease, its mtime refreshed while the process lives.
 *
 * A message exists once its directory, complete and fsynced, is renamed from `tmp/` to `work/` and
 * `work/<owner>` is fsynced: only then may the client get 250. A replica takes a ready entry by
 * renaming it into its own `work/` (one rename wins), so no two replicas handle an entry at once.
 * Local delivery hard-links `message` into the Maildir's `new/` under a name derived from the
 * entry id, so a delivery repeated after a crash finds the name taken and does nothing.
 */
export class Spool {
  /** Entries this process holds in its `work/` right now (recovery leaves them alone). */
  readonly held = new Set<string>();
  /** Directory fsyncs, group-committed (the spool's `work/` and the Maildirs' `new/`). */
  readonly syncer: DirSyncer;
  /** The Maildirs under the root: local delivery, straight from intake or from the queue. */
  readonly maildirs: Maildirs;
  readonly queueDir: string;
  readonly tmpRoot: string;
  readonly workRoot: string;
  readonly readyDir: string;
  readonly ownersDir: string;

  constructor(
    readonly root: string,
    private readonly ops: FileOps = nodeFileOps,
    private readonly hostname = "localhost",
    readonly owner = ownerName(),
  ) {
    this.queueDir = join(root, "queue");
    this.tmpRoot = join(this.queueDir, "tmp");
    this.workRoot = join(this.queueDir, "work");
    this.readyDir = join(this.queueDir, "ready");
    this.ownersDir = join(this.queueDir, "owners");
    this.syncer = new DirSyncer(ops);
    const spares = new SpareFiles(ops, join(this.tmpRoot, owner));
    this.maildirs = new Maildirs(root, ops, hostname, this.syncer, owner, spares);
  }

  get fileOps(): FileOps {
    return this.ops;
  }

  /** Creates the directories and this replica's lease (at start; not on a serving path). */
  async init(): Promise<void> {
    await this.ops.mkdir(this.ownersDir);
    const lease = join(this.ownersDir, this.owner);
    const file = await this.ops.create(lease);
    await file.close();
    await this.ops.syncDir(this.ownersDir);
    await this.ops.mkdir(join(this.tmpRoot, this.owner));
    await this.ops.mkdir(join(this.workRoot, this.owner));
    await this.ops.mkdir(this.readyDir);
    this.maildirs.primeSpares();
  }

  /**
   * Refreshes this replica's lease; a replica whose lease runs out is taken for dead. False when
   * the lease was gone (this process stalled past it and another replica recovered its entries):
   * the lease and directories are made again.
   */
  async renewLease(): Promise<boolean> {
    try {
      await this.ops.touch(join(this.ownersDir, this.owner));
      return true;
    } catch (err) {
      if (!isMissing(err)) throw err;
      await this.init();
      return false;
    }
  }

  /**
   * Writes `head` then every chunk of `body` and the envelope, and commits the entry into this
   * replica's `work/`. Throws SpoolWriteError and leaves nothing behind on failure.
   */
  async receive(
    head: Uint8Array,
    body: AsyncIterable<Uint8Array>,
    envelope: { from: string; recipients: readonly NewRecipient[] },
    id = newId(),
  ): Promise<SpooledMessage> {
    const tmp = join(this.tmpRoot, this.owner, id);
    const dir = join(this.workRoot, this.owner, id);
    let file: WritableFile | undefined;
    let bytes = 0;
    let named = false;
    try {
      await this.ops.mkdir(tmp);
      file = await this.ops.create(join(tmp, MESSAGE));
      bytes = await writeBatched(file, head, body);
      const entry: QueueEntry = {
        id,
        from: envelope.from,
        createdAt: Date.now(),
        bytes,
        recipients: envelope.recipients.map((r) => ({ ...r, status: "pending", attempts: 0 })),
        attempts: 0,
        nextAttemptAt: 0,
      };
      // The message's fsync and the envelope's write and fsync are independent: one wait, not two.
      const written = file;
      await Promise.all([
        written.sync().then(() => closeLater(written)),
        this.writeNew(join(tmp, ENTRY), encodeEntry(entry)),
      ]);
      file = undefined;
      await this.ops.syncDir(tmp);
      this.held.add(id);
      await this.ops.rename(tmp, dir);
      named = true;
      // Shared with every message committed meanwhile (group commit).
      await this.syncer.sync(join(this.workRoot, this.owner));
      return { id, dir, path: join(dir, MESSAGE), bytes, entry };
    } catch (err) {
      await file?.close().catch(() => {});
      // The client is told 4xx and will send again: a copy left in the queue would be a duplicate.
      await this.ops.remove(named ? dir : tmp).catch(() => {});
      this.held.delete(id);
      throw new SpoolWriteError(`cannot spool message ${id}`, { cause: err });
    }
  }

  /**
   * Delivers to every pending local recipient's Maildir `new/` and marks them delivered (in memory;
   * `settle` persists). `recovering`: the entry may have been delivered before a crash, so a copy
   * the user already moved to `cur/` counts as delivered too.
   */
  async deliverLocal(message: SpooledMessage, options: { recovering?: boolean } = {}): Promise<void> {
    const name = maildirName(this.hostname, message.entry);
    const byMailbox = new Map<string, QueueRecipient[]>();
    for (const r of pendingLocal(message.entry)) {
      const mailbox = r.mailbox as string;
      byMailbox.set(mailbox, [...(byMailbox.get(mailbox) ?? []), r]);
    }
    for (const [mailbox, recipients] of byMailbox) {
      const dir = this.maildirs.dirOf(mailbox);
      try {
        await this.maildirs.ensure(dir);
        const seen =
          options.recovering &&
          (await this.ops.list(join(dir, "cur"))).some((n) => n === name || n.startsWith(`${name}:`));
        if (!seen) {
          await this.maildirs.link(message.path, dir, name);
          await this.maildirs.commit(dir);
        }
      } catch (err) {
        throw new DeliveryError(`cannot deliver ${message.id} to ${mailbox}`, { cause: err });
      }
      for (const r of recipients) r.status = "delivered";
    }
  }

  /**
   * Ends this replica's hold on an entry: forgotten when no recipient is pending (the Maildir links
   * keep the bytes), otherwise saved and put in `ready/` for `dueAt`.
   */
  async settle(message: SpooledMessage, dueAt = Date.now()): Promise<"done" | "queued"> {
    try {
      if (!message.entry.recipients.some((r) => r.status === "pending")) {
        await this.discard(message.dir);
        return "done";
      }
      message.entry.nextAttemptAt = dueAt;
      await this.saveEntry(message);
      await this.ops.rename(message.dir, join(this.readyDir, `${message.id}@${dueAt}`));
      return "queued";
    } finally {
      this.held.delete(message.id);
    }
  }

  /**
   * Stops holding an entry without settling it (its handling failed): it stays in this replica's
   * `work/`, committed, and the next recovery sweep puts it back in `ready/`.
   */
  letGo(message: SpooledMessage): void {
    this.held.delete(message.id);
  }

  /**
   * A clean exit: what this replica still holds goes to `ready/` for the others, and its lease and
   * directories are removed (what was being received is dropped; its clients got no 250).
   */
  async retire(): Promise<void> {
    const work = join(this.workRoot, this.owner);
    await this.maildirs.dropSpares();
    for (const id of await this.ops.list(work)) {
      await this.ops.rename(join(work, id), join(this.readyDir, `${id}@0`)).catch(() => {});
    }
    await this.ops.remove(join(this.tmpRoot, this.owner));
    await this.ops.rmdir(work).catch(() => {});
    await this.ops.unlink(join(this.ownersDir, this.owner)).catch(() => {});
  }

  /** Writes the entry's state durably (new file, fsync, rename over the old one). */
  async saveEntry(message: SpooledMessage): Promise<void> {
    const tmp = join(message.dir, `${ENTRY}.new`);
    await this.ops.remove(tmp);
    await this.writeNew(tmp, encodeEntry(message.entry));
    await this.ops.rename(tmp, join(message.dir, ENTRY));
    await this.ops.syncDir(message.dir);
  }

  /**
   * Removes an entry: `entry.json` first, so a half-removed entry is recognisably dead; then the
   * message and the directory (a full tree removal only when something else is left in it).
   */
  async discard(dir: string): Promise<void> {
    const gone = (err: unknown) => {
      if (!isMissing(err)) throw err;
    };
    await this.ops.unlink(join(dir, ENTRY)).catch(gone);
    await this.ops.unlink(join(dir, MESSAGE)).catch(gone);
    await this.ops.rmdir(dir).catch(() => this.ops.remove(dir));
  }

  /** Entries waiting in `ready/`, with when each is due. */
  async listReady(): Promise<ReadyName[]> {
    const names = await this.ops.list(this.readyDir);
    return names.flatMap((name) => {
      const at = name.lastIndexOf("@");
      const dueAt = Number(name.slice(at + 1));
      return at > 0 && Number.isFinite(dueAt) ? [{ name, id: name.slice(0, at), dueAt }] : [];
    });
  }

  /**
   * Takes a ready entry into this replica's `work/`. Undefined when another replica took it first
   * (the rename found nothing). An entry that cannot be read is removed: it was half discarded.
   */
  async claim(ready: ReadyName): Promise<SpooledMessage | undefined> {
    const dir = join(this.workRoot, this.owner, ready.id);
    // Held before the rename: a recovery sweep of this replica's work/ must never see it unheld.
    this.held.add(ready.id);
    try {
      await this.ops.rename(join(this.readyDir, ready.name), dir);
    } catch (err) {
      this.held.delete(ready.id);
      if (isMissing(err) || isExisting(err) || (err as NodeJS.ErrnoException).code === "ENOTEMPTY")
        return undefined;
      throw err;
    }
    const message = await this.load(dir);
    if (!message) this.held.delete(ready.id);
    return message;
  }

  /** Reads an entry directory; a broken one (no entry.json or no message) is removed. */
  async load(dir: string): Promise<SpooledMessage | undefined> {
    try {
      const entry = decodeEntry(await this.ops.read(join(dir, ENTRY)));
      if ((await this.ops.modifiedAt(join(dir, MESSAGE))) === undefined)
        throw new QueueEntryError(`${dir}: no message file`);
      return { id: entry.id, dir, path: join(dir, MESSAGE), bytes: entry.bytes, entry };
    } catch {
      await this.ops.remove(dir);
      return undefined;
    }
  }

  /** Puts a ready entry's due time to now (`FlushQueue`). False when it is gone or being handled. */
  async makeDue(ready: ReadyName, at = 0): Promise<boolean> {
    try {
      await this.ops.rename(join(this.readyDir, ready.name), join(this.readyDir, `${ready.id}@${at}`));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Reads a ready entry without taking it (for listings); undefined when it moved meanwhile. */
  async peek(ready: ReadyName): Promise<QueueEntry | undefined> {
    try {
      return decodeEntry(await this.ops.read(join(this.readyDir, ready.name, ENTRY)));
    } catch {
      return undefined;
    }
  }

  private async writeNew(path: string, data: Uint8Array): Promise<void> {
    const file = await this.ops.create(path);
    try {
      await file.write(data);
      await file.sync();
    } catch (err) {
      await file.close().catch(() => {});
      throw err;
    }
    closeLater(file);
  }
}
