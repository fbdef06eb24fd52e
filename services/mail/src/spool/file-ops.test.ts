import assert from "node:assert/strict";
import { constants } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nodeFileOps } from "./file-ops.js";

/** The open flags (octal in /proc) of this process's fd for `path` (Linux). */
async function openFlags(path: string): Promise<number> {
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8");
    const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
    assert.ok(flags, `no flags in fdinfo of ${path}`);
    return Number.parseInt(flags, 8);
  }
  throw new Error(`${path} is not open`);
}

describe("nodeFileOps.create", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchyard-file-ops-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a file for durable writes with O_DSYNC, and writes every byte", async () => {
    const path = join(dir, "durable");
    const file = await nodeFileOps.create(path, { durableWrites: true });
    try {
      assert.equal((await openFlags(path)) & constants.O_DSYNC, constants.O_DSYNC);
      await file.writev([Buffer.from("head\r\n"), Buffer.from("body\r\n")]);
      await file.sync();
    } finally {
      await file.close();
    }
    assert.equal(await readFile(path, "utf8"), "head\r\nbody\r\n");
  });

  it("opens an ordinary new file without O_DSYNC (its sync() does the flush)", async () => {
    const path = join(dir, "plain");
    const file = await nodeFileOps.create(path);
    try {
      assert.equal((await openFlags(path)) & constants.O_DSYNC, 0);
    } finally {
      await file.close();
    }
  });

  it("never opens an existing file, durable or not", async () => {
    const path = join(dir, "taken");
    await (await nodeFileOps.create(path)).close();
    await assert.rejects(nodeFileOps.create(path, { durableWrites: true }), { code: "EEXIST" });
    await assert.rejects(nodeFileOps.create(path), { code: "EEXIST" });
  });
});
