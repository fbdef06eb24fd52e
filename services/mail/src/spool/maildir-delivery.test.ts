import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { waitFor } from "@switchyard/testkit";
import { MaildirDeliveryError } from "../errors.js";
import { DirSyncer } from "./dir-sync.js";
import { dirByPath, type FileOps, nodeFileOps, placeBySteps } from "./file-ops.js";
import { Maildirs } from "./maildir-delivery.js";
import { SpareFiles } from "./spare-files.js";

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

/**
 * `ops` with `place` done call by call through its own methods (placeBySteps, directories by path),
 * so a test can record or fail each call; the native one-hop path is tested in maildir-commit.test.ts.
 */
function stepwise(ops: FileOps): FileOps {
  const self: FileOps = {
    ...ops,
    openDir: async (path) => dirByPath(self, path),
    place: (request) => placeBySteps(self, request),
  };
  return self;
}

/** The real file system with every call logged; `fail` makes one kind of call fail (disk full). */
function recording(log: string[], fail?: "write" | "link" | "create"): FileOps {
  const enospc = () => Object.assign(new Error("ENOSPC: no space left"), { code: "ENOSPC" });
  return stepwise({
    ...nodeFileOps,
    async create(path, options) {
      if (fail === "create") throw enospc();
      log.push(`create ${path}${options?.durableWrites ? " (durable writes)" : ""}`);
      const file = await nodeFileOps.create(path, options);
      return {
        ...file,
        async writev(data) {
          if (fail === "write") throw enospc();
          log.push("writev");
          return file.writev(data);
        },
        async sync() {
          log.push("sync");
          return file.sync();
        },
      };
    },
    async rename(a, b) {
      log.push(`rename ${b}`);
      return nodeFileOps.rename(a, b);
    },
    async link(a, b) {
      if (fail === "link") throw enospc();
      log.push(`link ${b}`);
      return nodeFileOps.link(a, b);
    },
    async syncDir(p) {
      log.push(`syncdir ${p}`);
      return nodeFileOps.syncDir(p);
    },
  });
}

describe("direct Maildir delivery", () => {
  let root = "";
  const maildirs = (ops: FileOps) => new Maildirs(root, ops, "mx.test", new DirSyncer(ops), "r1");
  const dir = (user: string) => join(root, "switchyard.test", user);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-maildir-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes once into tmp/, fsyncs, renames into new/ and fsyncs new/ before returning", async () => {
    const log: string[] = [];
    const m = maildirs(recording(log));
    await m.ensure(dir("demo"));
    const copy = await m.deliver(
      Buffer.from("Received: x\r\n"),
      chunks("Subject: a\r\n\r\n", "body\r\n"),
      ["demo@switchyard.test"],
      "ID1",
    );
    assert.deepEqual(log, [
      `create ${dir("demo")}/tmp/r1.ID1`,
      "writev", // the head and every chunk in one write
      "sync",
      `rename ${dir("demo")}/new/${copy.name}`,
      `syncdir ${dir("demo")}/new`,
    ]);
    assert.match(copy.name, /^\d+\.ID1\.mx\.test,S=33$/);
    assert.equal(
      await readFile(join(dir("demo"), "new", copy.name), "utf8"),
      "Received: x\r\nSubject: a\r\n\r\nbody\r\n",
    );
    assert.deepEqual(await readdir(join(dir("demo"), "tmp")), []);
  });

  it("makes new/ again when it was removed since the Maildir was made", async () => {
    const m = maildirs(nodeFileOps);
    await m.deliver(Buffer.alloc(0), chunks("one\r\n"), ["demo@switchyard.test"], "ID6");
    await rm(join(dir("demo"), "new"), { recursive: true });
    const copy = await m.deliver(Buffer.alloc(0), chunks("two\r\n"), ["demo@switchyard.test"], "ID7");
    assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), "two\r\n");
  });

  it("gives every mailbox a hard link of the one file", async () => {
    const m = maildirs(nodeFileOps);
    const copy = await m.deliver(
      Buffer.alloc(0),
      chunks("x\r\n"),
      ["demo@switchyard.test", "ops@switchyard.test"],
      "ID2",
    );
    const a = await stat(join(dir("demo"), "new", copy.name));
    const b = await stat(join(dir("ops"), "new", copy.name));
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2, "no name left in tmp/");
  });

  it("leaves no copy in any new/ when a mailbox cannot take the link, and hands back the whole file", async () => {
    const m = maildirs(recording([], "link"));
    const err = await m
      .deliver(Buffer.alloc(0), chunks("whole\r\n"), ["demo@switchyard.test", "ops@switchyard.test"], "ID3")
      .catch((e: unknown) => e);
    assert.ok(err instanceof MaildirDeliveryError);
    assert.equal(err.stage, "link");
    assert.equal(await readFile(err.tmpPath, "utf8"), "whole\r\n");
    assert.deepEqual(await readdir(join(dir("demo"), "new")), []);
    assert.deepEqual(await readdir(join(dir("ops"), "new")).catch(() => []), []);
  });

  it("reads nothing when the Maildir cannot be opened (the caller spools the message instead)", async () => {
    await writeFile(join(root, "switchyard.test"), "not a directory");
    let read = false;
    async function* body() {
      read = true;
      yield Buffer.from("x");
    }
    const err = await maildirs(nodeFileOps)
      .deliver(Buffer.alloc(0), body(), ["demo@switchyard.test"], "ID4")
      .catch((e: unknown) => e);
    assert.ok(err instanceof MaildirDeliveryError);
    assert.equal(err.stage, "open");
    assert.equal(read, false);
  });

  it("leaves nothing behind when the write fails", async () => {
    const err = await maildirs(recording([], "write"))
      .deliver(Buffer.alloc(0), chunks("x\r\n"), ["demo@switchyard.test"], "ID5")
      .catch((e: unknown) => e);
    assert.ok(err instanceof MaildirDeliveryError);
    assert.equal(err.stage, "write");
    assert.deepEqual(await readdir(join(dir("demo"), "tmp")), []);
    assert.deepEqual(await readdir(join(dir("demo"), "new")), []);
  });
});

describe("direct Maildir delivery with a file opened ahead", () => {
  let root = "";
  let spareDir = "";
  const dir = (user: string) => join(root, "switchyard.test", user);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-maildir-spare-"));
    spareDir = join(root, "queue", "tmp", "r1");
    await nodeFileOps.mkdir(spareDir);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes the next message into the spare opened after the last one: no create between its arrival and its 250", async () => {
    const log: string[] = [];
    const ops = recording(log);
    const spares = new SpareFiles(ops, spareDir);
    const m = new Maildirs(root, ops, "mx.test", new DirSyncer(ops), "r1", spares);
    await m.deliver(Buffer.alloc(0), chunks("one\r\n"), ["demo@switchyard.test"], "ID1");
    assert.ok(
      log.includes(`create ${dir("demo")}/tmp/r1.ID1`),
      "no spare yet: the first message opens its own",
    );
    await waitFor("the spare opened", () => spares.opened === 1);

    log.length = 0;
    const copy = await m.deliver(
      Buffer.from("Received: x\r\n"),
      chunks("two\r\n"),
      ["demo@switchyard.test"],
      "ID2",
    );
    assert.equal(spares.taken, 1);
    assert.match(
      log[0] ?? "",
      new RegExp(`^create ${spareDir}/spare\\.\\w+ \\(durable writes\\)$`),
      "the opening of the next spare (O_DSYNC), first",
    );
    assert.deepEqual(log.slice(1), [
      "writev",
      "sync",
      `rename ${dir("demo")}/new/${copy.name}`,
      `syncdir ${dir("demo")}/new`,
    ]);
    assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), "Received: x\r\ntwo\r\n");
    assert.deepEqual(await readdir(join(dir("demo"), "tmp")), [], "nothing left in the Maildir's tmp/");
    await waitFor("the next spare opened", () => spares.opened === 2);
    const left = await readdir(spareDir);
    assert.equal(left.length, 1, "one spare waits, empty");
    assert.equal((await stat(join(spareDir, left[0] as string))).size, 0);

    await m.dropSpares();
    assert.deepEqual(await readdir(spareDir), [], "a clean exit removes it");
    await m.deliver(Buffer.alloc(0), chunks("three\r\n"), ["demo@switchyard.test"], "ID3");
    assert.deepEqual(await readdir(spareDir), [], "and opens no more");
  });

  it("gives every mailbox a hard link of the spare the message was written into", async () => {
    const spares = new SpareFiles(nodeFileOps, spareDir);
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1", spares);
    await m.deliver(Buffer.alloc(0), chunks("a\r\n"), ["demo@switchyard.test"], "IDA");
    await waitFor("the spare opened", () => spares.opened === 1);
    const copy = await m.deliver(
      Buffer.alloc(0),
      chunks("b\r\n"),
      ["demo@switchyard.test", "ops@switchyard.test"],
      "IDB",
    );
    assert.equal(spares.taken, 1);
    const a = await stat(join(dir("demo"), "new", copy.name));
    const b = await stat(join(dir("ops"), "new", copy.name));
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2, "the spare's own name is gone");
    assert.equal(await readFile(join(dir("ops"), "new", copy.name), "utf8"), "b\r\n");
    await m.dropSpares();
  });

  it("removes the spare with the message when the write fails, and the next message still gets one", async () => {
    let failWrites = false;
    const ops: FileOps = stepwise({
      ...nodeFileOps,
      async create(path) {
        const file = await nodeFileOps.create(path);
        return {
          ...file,
          async writev(data) {
            if (failWrites) throw Object.assign(new Error("ENOSPC: no space left"), { code: "ENOSPC" });
            return file.writev(data);
          },
        };
      },
    });
    const spares = new SpareFiles(ops, spareDir);
    const m = new Maildirs(root, ops, "mx.test", new DirSyncer(ops), "r1", spares);
    await m.deliver(Buffer.alloc(0), chunks("a\r\n"), ["demo@switchyard.test"], "IDA");
    await waitFor("the spare opened", () => spares.opened === 1);
    failWrites = true;
    const err = await m
      .deliver(Buffer.alloc(0), chunks("b\r\n"), ["demo@switchyard.test"], "IDB")
      .catch((e: unknown) => e);
    assert.ok(err instanceof MaildirDeliveryError);
    assert.equal(err.stage, "write");
    assert.equal(spares.taken, 1, "the failed message had the spare");
    await waitFor("the next spare opened", () => spares.opened === 2);
    assert.equal((await readdir(spareDir)).length, 1, "only the next spare is left");
    failWrites = false;
    const copy = await m.deliver(Buffer.alloc(0), chunks("c\r\n"), ["demo@switchyard.test"], "IDC");
    assert.equal(spares.taken, 2);
    assert.deepEqual((await readdir(join(dir("demo"), "new"))).length, 2, "the first and the third message");
    assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), "c\r\n");
    await m.dropSpares();
  });
});
