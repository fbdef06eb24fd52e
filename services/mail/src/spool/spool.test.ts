import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { SpoolWriteError } from "../errors.js";
import { type FileOps, nodeFileOps } from "./file-ops.js";
import { Spool } from "./spool.js";
import type { NewRecipient } from "./spool-layout.js";
import { SpoolRecovery } from "./spool-recovery.js";

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function* failing(): AsyncGenerator<Buffer> {
  yield Buffer.from("Subject: half\r\n\r\nfirst half");
  throw new Error("client went away");
}

const local = (mailbox: string): NewRecipient => ({ original: mailbox, address: mailbox, mailbox });
const envelope = (...mailboxes: string[]) => ({ from: "a@example.org", recipients: mailboxes.map(local) });
const quiet = { info: () => {}, warn: () => {} };

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
      names.push(...(await readdir(join(queue(), "tmp", owner))));
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

describe("spool recovery", () => {
  let root = "";
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-recovery-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("drops what a dead replica was receiving and requeues what it had committed; a live replica is left alone", async () => {
    const dead = new Spool(root, nodeFileOps, "mx.test", "dead");
    const live = new Spool(root, nodeFileOps, "mx.test", "live");
    const me = new Spool(root, nodeFileOps, "mx.test", "me");
    for (const s of [dead, live, me]) await s.init();
    const committedByDead = await dead.receive(Buffer.alloc(0), chunks("whole\r\n"), envelope("d@x.test"));
    await mkdir(join(root, "queue", "tmp", "dead", "half"));
    await writeFile(join(root, "queue", "tmp", "dead", "half", "message"), "Subject: half");
    // Half written straight into a Maildir by the dead replica, and by the live one.
    await mkdir(join(root, "x.test", "d", "tmp"), { recursive: true });
    await writeFile(join(root, "x.test", "d", "tmp", "dead.half2"), "Subject: half");
    await writeFile(join(root, "x.test", "d", "tmp", "live.busy2"), "Subject: busy");
    const committedByLive = await live.receive(Buffer.alloc(0), chunks("busy\r\n"), envelope("l@x.test"));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(root, "queue", "owners", "dead"), old, old);
    // A replica with directories but no lease file at all (a sweep that stopped half way).
    const ghost = new Spool(root, nodeFileOps, "mx.test", "ghost");
    await ghost.init();
    const committedByGhost = await ghost.receive(Buffer.alloc(0), chunks("g\r\n"), envelope("g@x.test"));
    await rm(join(root, "queue", "owners", "ghost"));

    const recovery = new SpoolRecovery(me, { leaseMs: 10_000, logger: quiet, inFlight: () => me.held });
    const result = await recovery.sweep();
    assert.deepEqual(result, { owners: 2, recovered: 2, dropped: 2 });
    assert.deepEqual(await readdir(join(root, "x.test", "d", "tmp")), ["live.busy2"]);
    assert.deepEqual(
      (await me.listReady()).map((r) => r.id).sort(),
      [committedByDead.id, committedByGhost.id].sort(),
    );
    assert.deepEqual(await readdir(join(root, "queue", "work", "live")), [committedByLive.id]);
    assert.deepEqual((await readdir(join(root, "queue", "owners"))).sort(), ["live", "me"]);
    assert.deepEqual((await readdir(join(root, "queue", "tmp"))).sort(), ["live", "me"]);
  });

  it("requeues an entry of its own that nothing holds, never one it is delivering", async () => {
    const me = new Spool(root, nodeFileOps, "mx.test", "me");
    await me.init();
    const busy = await me.receive(Buffer.alloc(0), chunks("a\r\n"), envelope("a@x.test"));
    const stray = await me.receive(Buffer.alloc(0), chunks("b\r\n"), envelope("b@x.test"));
    me.letGo(stray);
    const recovery = new SpoolRecovery(me, { leaseMs: 10_000, logger: quiet, inFlight: () => me.held });
    assert.equal((await recovery.sweep()).recovered, 1);
    assert.deepEqual(
      (await me.listReady()).map((r) => r.id),
      [stray.id],
    );
    assert.deepEqual(await readdir(join(root, "queue", "work", "me")), [busy.id]);
  });

  it("removes a half-discarded entry (no entry.json) instead of delivering it", async () => {
    const me = new Spool(root, nodeFileOps, "mx.test", "me");
    await me.init();
    const message = await me.receive(Buffer.alloc(0), chunks("a\r\n"), envelope("a@x.test"));
    await me.settle({ ...message, entry: { ...message.entry, recipients: [] } }).catch(() => {});
    const again = await me.receive(Buffer.alloc(0), chunks("b\r\n"), envelope("b@x.test"));
    await rm(join(again.dir, "entry.json"));
    me.letGo(again);
    await new SpoolRecovery(me, { leaseMs: 10_000, logger: quiet, inFlight: () => me.held }).sweep();
    const [ready] = await me.listReady();
    assert.equal(await me.claim(ready!), undefined);
    assert.deepEqual(await readdir(join(root, "queue", "work", "me")), []);
  });
});
