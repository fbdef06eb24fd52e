import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { MaildirDeliveryError, PlaceError } from "../errors.js";
import { writableFile } from "../testing/writable-file.js";
import { DirSyncer } from "./dir-sync.js";
import { nodeFileOps, type WritableFile } from "./file-ops.js";
import type { NativeDir } from "./maildir-commit.js";
import { Maildirs } from "./maildir-delivery.js";
import { SpareFiles } from "./spare-files.js";

/** A WritableFile on /dev/full: every write fails with ENOSPC, as on a full disk. */
async function fullDisk(): Promise<WritableFile> {
  return writableFile(await open("/dev/full", constants.O_WRONLY));
}

describe("native Maildir commit (one work item: write, links, rename, fsync of new/)", () => {
  let root = "";
  const newDir = async (user: string) => {
    const path = join(root, user, "new");
    await mkdir(path, { recursive: true });
    return (await nodeFileOps.openDir(path)) as NativeDir;
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-commit-"));
    await mkdir(join(root, "tmp"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes the last bytes into an O_DSYNC file, renames it into new/ and fsyncs new/ itself", async () => {
    const into = await newDir("demo");
    const from = join(root, "tmp", "spare.1");
    const file = await nodeFileOps.create(from, { durableWrites: true });
    await file.write(Buffer.from("Received: x\r\n"));
    const before = into.fsyncs;
    const unsynced = await nodeFileOps.place({
      file,
      last: [Buffer.from("Subject: a\r\n\r\n"), Buffer.alloc(0), Buffer.from("body\r\n")],
      from,
      name: "1.ID1.mx,S=33",
      links: [],
      into,
    });
    await file.close();
    assert.deepEqual(unsynced, [], "new/ was fsynced in the same work item");
    assert.equal(into.fsyncs, before + 1, "exactly one fsync of new/");
    assert.equal(
      await readFile(join(into.path, "1.ID1.mx,S=33"), "utf8"),
      "Received: x\r\nSubject: a\r\n\r\nbody\r\n",
    );
    assert.deepEqual(await readdir(join(root, "tmp")), [], "renamed, not copied");
  });

  it("writes every byte of a large last batch (many chunks) and fsyncs a file opened without O_DSYNC", async () => {
    const into = await newDir("demo");
    const from = join(root, "tmp", "own");
    const file = await nodeFileOps.create(from);
    const chunks = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(300, 97 + (i % 26)));
    await nodeFileOps.place({ file, last: chunks, from, name: "big", links: [], into });
    await file.close();
    assert.deepEqual(await readFile(join(into.path, "big")), Buffer.concat(chunks));
  });

  it("links into every other new/, renames into the first, and fsyncs each directory once", async () => {
    const into = await newDir("demo");
    const links = [await newDir("ops"), await newDir("abuse")];
    const from = join(root, "tmp", "spare.2");
    const file = await nodeFileOps.create(from, { durableWrites: true });
    const counts = [into, ...links].map((d) => d.fsyncs);
    const unsynced = await nodeFileOps.place({
      file,
      last: [Buffer.from("x\r\n")],
      from,
      name: "n",
      links,
      into,
    });
    await file.close();
    assert.deepEqual(unsynced, []);
    assert.deepEqual(
      [into, ...links].map((d) => d.fsyncs),
      counts.map((n) => n + 1),
    );
    const inodes = await Promise.all([into, ...links].map(async (d) => (await stat(join(d.path, "n"))).ino));
    assert.equal(new Set(inodes).size, 1, "one file, three names");
    assert.equal((await stat(join(into.path, "n"))).nlink, 3, "the tmp name is gone");
  });

  it("leaves new/ to the caller's group commit while another fsync of it is under way", async () => {
    const into = await newDir("demo");
    const from = join(root, "tmp", "spare.3");
    const file = await nodeFileOps.create(from, { durableWrites: true });
    into.markSyncing(true);
    const before = into.fsyncs;
    try {
      const unsynced = await nodeFileOps.place({
        file,
        last: [Buffer.from("y\r\n")],
        from,
        name: "m",
        links: [],
        into,
      });
      assert.deepEqual(unsynced, [into], "handed back, not fsynced");
      assert.equal(into.fsyncs, before, "no fsync of new/ in the work item");
    } finally {
      into.markSyncing(false);
      await file.close();
    }
    assert.equal(await readFile(join(into.path, "m"), "utf8"), "y\r\n");
  });

  it("puts the name into the directory at the path, and fsyncs that one, after new/ was moved and made again", async () => {
    const into = await newDir("demo");
    await rename(into.path, `${into.path}.1`);
    await mkdir(into.path);
    const from = join(root, "tmp", "spare.5");
    const file = await nodeFileOps.create(from, { durableWrites: true });
    const before = into.fsyncs;
    const unsynced = await nodeFileOps.place({
      file,
      last: [Buffer.from("v\r\n")],
      from,
      name: "n",
      links: [],
      into,
    });
    await file.close();
    assert.equal(await readFile(join(into.path, "n"), "utf8"), "v\r\n", "where readers look");
    assert.deepEqual(await readdir(`${into.path}.1`), [], "not into the moved directory");
    assert.deepEqual(unsynced, []);
    assert.equal(into.fsyncs, before + 1);
  });

  it("leaves new/ to the group commit while another message for it is under way", async () => {
    const into = await newDir("demo");
    // Message b is under way for certain: its work item blocks writing 1 MiB into a FIFO nobody
    // reads yet (a pipe holds 64 KiB), so it is queued and not complete while a runs.
    const fifo = join(root, "fifo");
    execFileSync("mkfifo", [fifo]);
    const pipe = await open(fifo, constants.O_RDWR);
    const fromB = join(root, "tmp", "spare.b");
    await writeFile(fromB, "");
    const blocked = writableFile(pipe);
    const big = Buffer.alloc(1 << 20, 0x61);
    const b = nodeFileOps.place({ file: blocked, last: [big], from: fromB, name: "b", links: [], into });
    const fromA = join(root, "tmp", "spare.a");
    const fileA = await nodeFileOps.create(fromA, { durableWrites: true });
    const before = into.fsyncs;
    let drained = 0;
    try {
      const unsyncedA = await nodeFileOps.place({
        file: fileA,
        last: [Buffer.from("a\r\n")],
        from: fromA,
        name: "a",
        links: [],
        into,
      });
      assert.deepEqual(unsyncedA, [into], "a is handed to the group commit, b being under way");
      assert.equal(into.fsyncs, before, "no fsync of new/ in a's work item");
    } finally {
      // Let b finish: read what it writes until it resolves.
      const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const chunk = Buffer.alloc(1 << 16);
      let done = false;
      const settled = b.then(
        () => {
          done = true;
        },
        () => {
          done = true;
        },
      );
      while (!done) {
        const { bytesRead } = await reader.read(chunk, 0, chunk.length, null).catch(() => ({ bytesRead: 0 }));
        drained += bytesRead;
        if (bytesRead === 0) await new Promise((r) => setImmediate(r));
      }
      await settled;
      await reader.close();
      await pipe.close();
      await fileA.close();
    }
    assert.equal(drained, big.length, "b wrote all of its bytes");
    assert.deepEqual(await b, [], "b, alone once a completed, fsyncs new/ itself");
    assert.deepEqual((await readdir(into.path)).sort(), ["a", "b"]);
  });

  it("a full disk fails at stage write with ENOSPC, and nothing is placed", async () => {
    const into = await newDir("demo");
    const other = await newDir("ops");
    const file = await fullDisk();
    const err = await nodeFileOps
      .place({ file, last: [Buffer.from("z\r\n")], from: "/dev/full", name: "n", links: [other], into })
      .catch((e: unknown) => e);
    await file.close();
    assert.ok(err instanceof PlaceError);
    assert.equal(err.stage, "write");
    assert.equal(err.code, "ENOSPC");
    assert.equal(err.placed, 0);
    assert.deepEqual(await readdir(into.path), []);
    assert.deepEqual(await readdir(other.path), []);
  });

  it("a link that fails stops before the rename and says how many links were made", async () => {
    const into = await newDir("demo");
    const ok = await newDir("ops");
    const gone = await newDir("gone");
    await rm(join(root, "gone"), { recursive: true });
    const from = join(root, "tmp", "spare.4");
    const file = await nodeFileOps.create(from, { durableWrites: true });
    const err = await nodeFileOps
      .place({ file, last: [Buffer.from("w\r\n")], from, name: "n", links: [ok, gone], into })
      .catch((e: unknown) => e);
    await file.close();
    assert.ok(err instanceof PlaceError);
    assert.equal(err.stage, "link");
    assert.equal(err.code, "ENOENT", "a removed directory takes no new name");
    assert.equal(err.placed, 1);
    assert.deepEqual(await readdir(join(root, "tmp")), ["spare.4"], "not renamed");
    assert.deepEqual(await readdir(into.path), []);
  });
});

describe("Maildirs over the native commit", () => {
  let root = "";
  const dir = (user: string) => join(root, "switchyard.test", user);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-commit-maildirs-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
    for (const p of parts) yield Buffer.from(p);
  }

  it("delivers with one fsync of new/ per lone message, through the kept-open directory", async () => {
    const syncer = new DirSyncer(nodeFileOps);
    const spareDir = join(root, "queue", "tmp", "r1");
    await mkdir(spareDir, { recursive: true });
    const m = new Maildirs(root, nodeFileOps, "mx.test", syncer, "r1", new SpareFiles(nodeFileOps, spareDir));
    m.primeSpares();
    for (const id of ["A", "B", "C"]) {
      const copy = await m.deliver(
        Buffer.from("H: 1\r\n"),
        chunks(`${id}\r\n`),
        ["demo@switchyard.test"],
        id,
      );
      assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), `H: 1\r\n${id}\r\n`);
    }
    assert.equal(syncer.rounds, 0, "no group-commit round was needed: each work item fsynced new/");
    assert.deepEqual(await readdir(spareDir).then((n) => n.length), 1, "only the next spare");
    await m.dropSpares();
    assert.deepEqual(await readdir(spareDir), []);
  });

  it("runs a group-commit round for new/ when the work item could not fsync it", async () => {
    const syncer = new DirSyncer(nodeFileOps);
    let busy: NativeDir | undefined;
    const ops = {
      ...nodeFileOps,
      async openDir(path: string) {
        busy = (await nodeFileOps.openDir(path)) as NativeDir;
        busy.markSyncing(true); // as if an fsync of it were running
        return busy;
      },
    };
    const m = new Maildirs(root, ops, "mx.test", syncer, "r1");
    const copy = await m.deliver(Buffer.alloc(0), chunks("q\r\n"), ["demo@switchyard.test"], "Q");
    assert.ok(busy);
    assert.equal(syncer.rounds, 1, "one round, started after the rename");
    assert.equal(busy.fsyncs, 1, "…through the kept-open handle");
    busy.markSyncing(false);
    assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), "q\r\n");
    await m.dropSpares();
  });

  it("hands back the whole file (last bytes written) when another Maildir cannot be made", async () => {
    await mkdir(join(root, "switchyard.test"), { recursive: true });
    await writeFile(dir("stuck"), "a file where the Maildir should be");
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1");
    const err = await m
      .deliver(
        Buffer.from("H: 1\r\n"),
        chunks("whole\r\n"),
        ["demo@switchyard.test", "stuck@switchyard.test"],
        "S",
      )
      .catch((e: unknown) => e);
    assert.ok(err instanceof MaildirDeliveryError);
    assert.equal(err.stage, "link");
    assert.equal(
      await readFile(err.tmpPath, "utf8"),
      "H: 1\r\nwhole\r\n",
      "the spool can take it from there",
    );
    assert.deepEqual(await readdir(join(dir("demo"), "new")), []);
    await m.dropSpares();
  });

  it("delivers into new/ at its path after it was moved aside (made and opened again)", async () => {
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1");
    const one = await m.deliver(Buffer.alloc(0), chunks("one\r\n"), ["demo@switchyard.test"], "M1");
    await rename(join(dir("demo"), "new"), join(dir("demo"), "new.1"));
    const two = await m.deliver(Buffer.alloc(0), chunks("two\r\n"), ["demo@switchyard.test"], "M2");
    assert.deepEqual(await readdir(join(dir("demo"), "new.1")), [one.name]);
    assert.deepEqual(await readdir(join(dir("demo"), "new")), [two.name]);
    await mkdir(join(dir("demo"), "new.2"));
    await rename(join(dir("demo"), "new"), join(dir("demo"), "new.3"));
    await rename(join(dir("demo"), "new.2"), join(dir("demo"), "new"));
    const three = await m.deliver(Buffer.alloc(0), chunks("three\r\n"), ["demo@switchyard.test"], "M3");
    assert.deepEqual(await readdir(join(dir("demo"), "new")), [three.name], "swapped under the kept fd");
    const four = await m.deliver(Buffer.alloc(0), chunks("four\r\n"), ["demo@switchyard.test"], "M4");
    assert.deepEqual((await readdir(join(dir("demo"), "new"))).sort(), [three.name, four.name].sort());
    await m.dropSpares();
  });

  it("messages arriving together after new/ was moved aside all land in new/ (no handle closed under one)", async () => {
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1");
    await m.deliver(
      Buffer.alloc(0),
      chunks("first\r\n"),
      ["demo@switchyard.test", "ops@switchyard.test"],
      "F",
    );
    for (const user of ["demo", "ops"]) await rename(join(dir(user), "new"), join(dir(user), "new.1"));
    const ids = Array.from({ length: 24 }, (_, i) => `C${i}`);
    const copies = await Promise.all(
      ids.map((id) =>
        m.deliver(Buffer.alloc(0), chunks(`${id}\r\n`), ["demo@switchyard.test", "ops@switchyard.test"], id),
      ),
    );
    for (const user of ["demo", "ops"])
      assert.deepEqual((await readdir(join(dir(user), "new"))).sort(), copies.map((c) => c.name).sort());
    await m.dropSpares();
  });

  it("delivers to more mailboxes than one work item takes (call by call), every copy linked", async () => {
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1");
    const boxes = Array.from({ length: 300 }, (_, i) => `u${i}@switchyard.test`);
    const copy = await m.deliver(Buffer.alloc(0), chunks("many\r\n"), boxes, "MANY");
    assert.equal((await stat(join(dir("u299"), "new", copy.name))).nlink, 300);
    assert.equal(await readFile(join(dir("u0"), "new", copy.name), "utf8"), "many\r\n");
  });

  it("opens new/ again when the Maildir was removed since (the rename is retried, the bytes not rewritten)", async () => {
    const m = new Maildirs(root, nodeFileOps, "mx.test", new DirSyncer(nodeFileOps), "r1");
    await m.deliver(Buffer.alloc(0), chunks("one\r\n"), ["demo@switchyard.test"], "ID1");
    await rm(dir("demo"), { recursive: true });
    const copy = await m.deliver(Buffer.alloc(0), chunks("two\r\n"), ["demo@switchyard.test"], "ID2");
    assert.equal(await readFile(join(dir("demo"), "new", copy.name), "utf8"), "two\r\n");
    await m.dropSpares();
  });
});
