import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { SpoolWriteError } from "../errors.js";
import { type FileOps, nodeFileOps } from "./file-ops.js";
import { isSpareName } from "./spare-files.js";
import { Spool } from "./spool.js";
import type { NewRecipient } from "./spool-layout.js";
import { spoolCounts } from "./spool-listing.js";

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function* failing(): AsyncGenerator<Buffer> {
  yield Buffer.from("Subject: half\r\n\r\nfirst half");
  throw new Error("client went away");
}

const local = (mailbox: string): NewRecipient => ({ original: mailbox, address: mailbox, mailbox });
const envelope = (...mailboxes: string[]) => ({ from: "a@example.org", recipients: mailboxes.map(local) });

/** The real file system, with every call recorded (and one kind made to fail on demand). */
function recording(log: string[], failOn?: keyof FileOps | "write" | "sync"): FileOps {
  const fail = (what: string) => {
    if (what === failOn)
      throw Object.assign(new Error(`ENOSPC: no space left (${what})`), { code: "ENOSPC" });
  };
  return {
    ...nodeFileOps,
    async create(path) {
      log.push(`create ${path}`);
      const file = await nodeFileOps.create(path);
      return {
        ...file,
        async write(data) {
          fail("write");
          log.push("write");
          return file.write(data);
        },
        async writev(data) {
          fail("write");
          log.push("write");
          return file.writev(data);
        },
        async sync() {
          fail("sync");
          log.push("sync");
          return file.sync();
        },
        close: () => file.close(),
      };
    },
    async rename(a, b) {
      fail("rename");
      log.push(`rename ${b}`);
      return nodeFileOps.rename(a, b);
    },
    async link(a, b) {
      log.push(`link ${b}`);
      return nodeFileOps.link(a, b);
    },
    async unlink(p) {
      log.push(`unlink ${p}`);
      return nodeFileOps.unlink(p);
    },
    async syncDir(p) {
      fail("syncDir");
      log.push(`syncdir ${p}`);
      return nodeFileOps.syncDir(p);
    },
  };
}

describe("spool", () => {
  let root = "";
  const queue = () => join(root, "queue");
  /** Every committed entry in the spool, wherever it is (work/ of any owner, or ready/). */
  async function committed(): Promise<string[]> {
    const names = [...(await readdir(join(queue(), "ready")))];
    for (const owner of await readdir(join(queue(), "work"))) {
      names.push(...(await readdir(join(queue(), "work", owner))));
    }
    return names;
  }
  async function receiving(): Promise<string[]> {
    const names: string[] = [];
    for (const owner of await readdir(join(queue(), "tmp"))) {
      names.push(...(await readdir(join(queue(), "tmp", owner))).filter((name) => !isSpareName(name)));
    }
    return names;
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-spool-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("fsyncs the message and envelope, commits the entry by renaming it into work/, then fsyncs work/", async () => {
    const log: string[] = [];
    const spool = new Spool(root, recording(log), "mx.test", "r1");
    await spool.init();
    log.length = 0;
    const message = await spool.receive(
      Buffer.from("Received: x\r\n"),
      chunks("Subject: a\r\n\r\n", "body\r\n"),
      envelope("demo@switchyard.test"),
    );
    const tmp = `${queue()}/tmp/r1/ID`;
    assert.deepEqual(
      log.map((l) => l.replaceAll(message.id, "ID")),
      [
        `create ${tmp}/message`,
        "write", // the head and every chunk in one writev
        "sync",
        `create ${tmp}/entry.json`,
        "write",
        "sync",
        `syncdir ${tmp}`,
        `rename ${queue()}/work/r1/ID`,
        `syncdir ${queue()}/work/r1`,
      ],
    );
    assert.equal(await readFile(message.path, "utf8"), "Received: x\r\nSubject: a\r\n\r\nbody\r\n");
    assert.equal(message.bytes, Buffer.byteLength("Received: x\r\nSubject: a\r\n\r\nbody\r\n"));
    const saved = JSON.parse(await readFile(join(message.dir, "entry.json"), "utf8"));
    assert.equal(saved.from, "a@example.org");
    assert.equal(saved.recipients[0].status, "pending");
  });

  it("never commits a partial message: a failing body leaves nothing in the queue or tmp", async () => {
    const spool = new Spool(root);
    await spool.init();
    await assert.rejects(
      spool.receive(Buffer.from("R: x\r\n"), failing(), envelope("a@b.test")),
      SpoolWriteError,
    );
    assert.deepEqual(await receiving(), []);
    assert.deepEqual(await committed(), []);
    assert.equal(spool.held.size, 0);
  });

  for (const failOn of ["write", "sync", "rename", "syncDir"] as const) {
    it(`turns a ${failOn} failure (disk full) into SpoolWriteError with the cause, leaving nothing`, async () => {
      const spool = new Spool(root, recording([], failOn));
      await spool.init().catch(() => {});
      await nodeFileOps.mkdir(join(queue(), "tmp", spool.owner));
      await nodeFileOps.mkdir(join(queue(), "work", spool.owner));
      await nodeFileOps.mkdir(join(queue(), "ready"));
      const err = await spool
        .receive(Buffer.from("R: x\r\n"), chunks("body\r\n"), envelope("a@b.test"))
        .catch((e: unknown) => e);
      assert.ok(err instanceof SpoolWriteError);
      assert.match(String((err.cause as Error).message), /ENOSPC/);
      assert.deepEqual(await receiving(), []);
      assert.deepEqual(await committed(), []);
    });
  }

  it("keeps the file opened ahead for direct deliveries in its tmp/, never counts it as received mail, and removes it on retire", async () => {
    const spool = new Spool(root, nodeFileOps, "mx.test", "r1");
    await spool.init();
    const tmp = join(queue(), "tmp", "r1");
    // Opened at start: the first message finds one, and the open files are the same before and after.
    await waitFor("the first spare opened", async () => (await readdir(tmp)).length === 1);
    const first = (await readdir(tmp))[0] as string;
    assert.match(first, /^spare\./);
    await spool.maildirs.deliver(Buffer.alloc(0), chunks("one\r\n"), ["demo@switchyard.test"], "ID1");
    await waitFor("the next spare opened", async () => (await readdir(tmp)).length === 1);
    const next = (await readdir(tmp))[0] as string;
    assert.match(next, /^spare\./);
    assert.notEqual(next, first, "the message took the first spare");
    assert.deepEqual(await spoolCounts(spool), { queued: 0, receiving: 0 });
    // The passing twin: a message being received is counted.
    await nodeFileOps.mkdir(join(tmp, "ID2"));
    assert.deepEqual(await spoolCounts(spool), { queued: 0, receiving: 1 });
    await spool.retire();
    assert.deepEqual(await readdir(join(queue(), "tmp")), [], "tmp/r1 and the spare in it are gone");
  });

  it("delivers by hard-linking into Maildir new/ under a name from the entry id, syncs new/, then forgets the entry", async () => {
    const log: string[] = [];
    const spool = new Spool(root, recording(log), "mx.test");
    await spool.init();
    const message = await spool.receive(
      Buffer.alloc(0),
      chunks("Subject: b\r\n\r\nhello\r\n"),
      envelope("demo@switchyard.test", "demo@switchyard.test"),
    );
    log.length = 0;
    await spool.deliverLocal(message);
    assert.equal(await spool.settle(message), "done");
    const maildir = join(root, "switchyard.test", "demo");
    const delivered = await readdir(join(maildir, "new"));
    assert.equal(delivered.length, 1, "a mailbox listed twice gets the message once");
    assert.match(delivered[0] as string, new RegExp(`^\\d+\\.${message.id}\\.mx\\.test,S=${message.bytes}$`));
    assert.equal(
      await readFile(join(maildir, "new", delivered[0] as string), "utf8"),
      "Subject: b\r\n\r\nhello\r\n",
    );
    assert.deepEqual(
      log.map((l) => l.split(" ")[0]),
      ["link", "syncdir", "unlink", "unlink"], // entry.json first, then the message (the Maildir link keeps it)
    );
    assert.deepEqual(await committed(), []);
    assert.equal(spool.held.size, 0);
  });

  it("delivers a message only once when delivery is repeated after a crash, even when the user moved it to cur/", async () => {
    const spool = new Spool(root, nodeFileOps, "mx.test");
    await spool.init();
    const message = await spool.receive(Buffer.alloc(0), chunks("x\r\n"), envelope("demo@switchyard.test"));
    await spool.deliverLocal(message);
    const maildir = join(root, "switchyard.test", "demo");
    // A repeat (the crash came before the entry was forgotten) finds the name in new/.
    message.entry.recipients[0]!.status = "pending";
    await spool.deliverLocal(message, { recovering: true });
    assert.equal((await readdir(join(maildir, "new"))).length, 1);
    // The user's client read it and moved it to cur/ with flags; the repeat still sees it.
    const [name] = await readdir(join(maildir, "new"));
    await rename(join(maildir, "new", name as string), join(maildir, "cur", `${name}:2,S`));
    message.entry.recipients[0]!.status = "pending";
    await spool.deliverLocal(message, { recovering: true });
    assert.deepEqual(await readdir(join(maildir, "new")), []);
    assert.equal((await readdir(join(maildir, "cur"))).length, 1);
  });

  it("keeps an entry with a pending recipient in ready/ with its due time, and one replica wins a claim", async () => {
    const a = new Spool(root, nodeFileOps, "mx.test", "a");
    const b = new Spool(root, nodeFileOps, "mx.test", "b");
    await a.init();
    await b.init();
    const message = await a.receive(Buffer.alloc(0), chunks("x\r\n"), {
      from: "demo@switchyard.test",
      recipients: [{ original: "x@far.test", address: "x@far.test" }],
    });
    assert.equal(await a.settle(message, 1234), "queued");
    const [ready] = await a.listReady();
    assert.deepEqual(ready, { name: `${message.id}@1234`, id: message.id, dueAt: 1234 });
    const claims = await Promise.all([a.claim(ready!), b.claim(ready!)]);
    assert.equal(claims.filter(Boolean).length, 1, "exactly one replica holds the entry");
    assert.equal(claims.find(Boolean)?.entry.recipients[0]?.address, "x@far.test");
  });
});
