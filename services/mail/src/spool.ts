import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DeliveryError, SpoolWriteError } from "./errors.js";
import { type FileOps, nodeFileOps, type WritableFile } from "./file-ops.js";
import { mailboxDir, maildirName } from "./maildir.js";

/** A message the spool holds durably: its file is complete, fsynced, and named in the queue. */
export interface SpooledMessage {
  id: string;
  path: string;
  bytes: number;
}

/**
 * The durable spool under `<root>/queue`. A message is written to `queue/tmp/<id>`, fsynced, renamed
 * to `queue/<id>.eml` and the directory fsynced: only then does it exist (and may the client get
 * 250). A message that fails half way is removed from tmp and never named in the queue. Local
 * delivery hard-links the spooled file into each Maildir (`tmp` → `new`, directory fsynced), so
 * the bytes are written and synced once whatever the number of recipients.
 */
export class Spool {
  readonly queueDir: string;
  private readonly tmpDir: string;

  constructor(
    readonly root: string,
    private readonly ops: FileOps = nodeFileOps,
    private readonly hostname = "localhost",
  ) {
    this.queueDir = join(root, "queue");
    this.tmpDir = join(this.queueDir, "tmp");
  }

  /** Creates the directories (at start; not on a serving path). */
  async init(): Promise<void> {
    await this.ops.mkdir(this.tmpDir);
  }

  /** Writes `head` then every chunk of `body`; throws SpoolWriteError and leaves nothing behind on failure. */
  async receive(head: Uint8Array, body: AsyncIterable<Uint8Array>): Promise<SpooledMessage> {
    const id = `${Date.now().toString(36)}${randomBytes(8).toString("hex")}`;
    const tmp = join(this.tmpDir, id);
    const path = join(this.queueDir, `${id}.eml`);
    let file: WritableFile | undefined;
    let bytes = 0;
    let named = false;
    try {
      file = await this.ops.create(tmp);
      await file.write(head);
      bytes += head.length;
      for await (const chunk of body) {
        await file.write(chunk);
        bytes += chunk.length;
      }
      await file.sync();
      await file.close();
      file = undefined;
      await this.ops.rename(tmp, path);
      named = true;
      await this.ops.syncDir(this.queueDir);
      return { id, path, bytes };
    } catch (err) {
      await file?.close().catch(() => {});
      // The client is told 4xx and will send again: a copy left in the queue would be a duplicate.
      await this.ops.unlink(named ? path : tmp).catch(() => {});
      throw new SpoolWriteError(`cannot spool message ${id}`, { cause: err });
    }
  }

  /** Delivers a spooled message into each mailbox's Maildir `new/`, durably. */
  async deliverLocal(message: SpooledMessage, mailboxes: readonly string[]): Promise<void> {
    for (const mailbox of new Set(mailboxes)) {
      const dir = mailboxDir(this.root, mailbox);
      const name = maildirName(this.hostname, message.bytes);
      const tmp = join(dir, "tmp", name);
      try {
        await this.ops.mkdir(join(dir, "tmp"));
        await this.ops.mkdir(join(dir, "new"));
        await this.ops.mkdir(join(dir, "cur"));
        await this.ops.link(message.path, tmp);
        await this.ops.rename(tmp, join(dir, "new", name));
        await this.ops.syncDir(join(dir, "new"));
      } catch (err) {
        await this.ops.unlink(tmp).catch(() => {});
        throw new DeliveryError(`cannot deliver ${message.id} to ${mailbox}`, { cause: err });
      }
    }
  }

  /** Forgets a message every recipient of which has it (the Maildir links keep the bytes). */
  async release(message: SpooledMessage): Promise<void> {
    await this.ops.unlink(message.path);
    await this.ops.syncDir(this.queueDir);
  }
}
