import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { KvKeyError } from "./errors.js";
import { ensureKvKey, loadKvKey } from "./kv-key.js";

describe("the KV key file", async () => {
  const dir = await mkdtemp(join(tmpdir(), `certstore-key-${process.pid}-`));
  after(() => rm(dir, { recursive: true, force: true }));

  it("is created once with mode 0600 and read back the same", async () => {
    const file = join(dir, "sub", "kv.key");
    const first = await ensureKvKey(file);
    assert.equal(first.length, 32);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await ensureKvKey(file), first);
    assert.deepEqual(await loadKvKey(file), first);
  });

  it("accepts base64 as well as hex", async () => {
    const key = randomBytes(32);
    const file = join(dir, "b64.key");
    await writeFile(file, `${key.toString("base64")}\n`);
    assert.deepEqual(await loadKvKey(file), key);
  });

  it("names the file when it is missing or holds the wrong length", async () => {
    await assert.rejects(
      loadKvKey(join(dir, "none.key")),
      (e: Error) => e instanceof KvKeyError && /none\.key does not exist/.test(e.message),
    );
    const short = join(dir, "short.key");
    await writeFile(short, randomBytes(16).toString("hex"));
    await assert.rejects(loadKvKey(short), /does not hold 32 bytes/);
    await assert.rejects(ensureKvKey(short), /does not hold 32 bytes/);
  });
});
