import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { SpoolWriteError } from "./errors.js";
import { type FileOps, nodeFileOps } from "./file-ops.js";
import { Spool } from "./spool.js";

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function* failing(): AsyncGenerator<Buffer> {
  yield Buffer.from("Subject: half\r\n\r\nfirst half");
  throw new Error("client went away");
}

/** The real file system, with every call recorded (and one kind made to fail on demand). */
function recording(log: string[], failOn?: keyof FileOps | "write" | "sync"): FileOps {
  const fail = (what: string) => {
    if (what === failOn)
      throw Object.assign(new Error(`ENOSPC: no space left (${what})`), { code: "ENOSPC" });
  };
  return {
    mkdir: (p) => nodeFileOps.mkdir(p),
    async create(path) {
      log.push(`create ${path}`);
      const file = await nodeFileOps.create(path);
      return {
        async write(data) {
          fail("write");
          log.push("write");
          return file.write(data);
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
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "switchyard-spool-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("fsyncs the file, names it in the queue, then fsyncs the queue directory", async () => {
    const log: string[] = [];
    const spool = new Spool(root, recording(log));
    await spool.init();
    const message = await spool.receive(
      Buffer.from("Received: x\r\n"),
      chunks("Subject: a\r\n\r\n", "body\r\n"),
    );
    const queue = join(root, "queue");
    assert.deepEqual(
      log.map((l) => l.replace(message.id, "ID")),
      [
        `create ${queue}/tmp/ID`,
        "write",
        "write",
        "write",
        "sync",
        `rename ${queue}/ID.eml`,
        `syncdir ${queue}`,
      ],
    );
    assert.equal(await readFile(message.path, "utf8"), "Received: x\r\nSubject: a\r\n\r\nbody\r\n");
    assert.equal(message.bytes, Buffer.byteLength("Received: x\r\nSubject: a\r\n\r\nbody\r\n"));
  });

  it("never names a partial message: a failing body leaves nothing in the queue or tmp", async () => {
    const spool = new Spool(root);
    await spool.init();
    await assert.rejects(spool.receive(Buffer.from("R: x\r\n"), failing()), SpoolWriteError);
    assert.deepEqual(await readdir(join(root, "queue", "tmp")), []);
    assert.deepEqual(
      (await readdir(join(root, "queue"))).filter((n) => n !== "tmp"),
      [],
    );
  });

  for (const failOn of ["write", "sync", "rename", "syncDir"] as const) {
    it(`turns a ${failOn} failure (disk full) into SpoolWriteError with the cause, leaving nothing`, async () => {
      const spool = new Spool(root, recording([], failOn));
      await spool.init();
      const err = await spool.receive(Buffer.from("R: x\r\n"), chunks("body\r\n")).catch((e: unknown) => e);
      assert.ok(err instanceof SpoolWriteError);
      assert.match(String((err.cause as Error).message), /ENOSPC/);
      assert.deepEqual(await readdir(join(root, "queue", "tmp")), []);
      assert.deepEqual(
        (await readdir(join(root, "queue"))).filter((n) => n !== "tmp"),
        [],
      );
    });
  }

  it("delivers to Maildir new/ through tmp/, syncs new/, and releases the queue entry", async () => {
    const log: string[] = [];
    const spool = new Spool(root, recording(log), "mx.test");
    await spool.init();
    const message = await spool.receive(Buffer.alloc(0), chunks("Subject: b\r\n\r\nhello\r\n"));
    log.length = 0;
    await spool.deliverLocal(message, ["demo@switchyard.test", "demo@switchyard.test"]);
    await spool.release(message);
    const maildir = join(root, "switchyard.test", "demo");
    const delivered = await readdir(join(maildir, "new"));
    assert.equal(delivered.length, 1, "a mailbox listed twice gets the message once");
    assert.deepEqual(await readdir(join(maildir, "tmp")), []);
    assert.deepEqual(await readdir(join(maildir, "cur")), []);
    assert.equal(
      await readFile(join(maildir, "new", delivered[0] as string), "utf8"),
      "Subject: b\r\n\r\nhello\r\n",
    );
    assert.deepEqual(
      log.map((l) => l.split(" ")[0]),
      ["link", "rename", "syncdir", "unlink", "syncdir"],
    );
    assert.match(log[0] as string, /\/demo\/tmp\//);
    assert.match(log[1] as string, /\/demo\/new\//);
    assert.deepEqual(
      (await readdir(join(root, "queue"))).filter((n) => n !== "tmp"),
      [],
    );
  });
});
