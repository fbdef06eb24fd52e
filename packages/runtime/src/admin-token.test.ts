import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureToken, readToken } from "./admin-token.js";
import { SecretFileError } from "./errors.js";

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-token-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("ensureToken creates a private random token once, with its directory", async (t) => {
  const file = join(await tempDir(t), "secrets", "admin-token");
  const token = await ensureToken(file);
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(await ensureToken(file), token);
  assert.equal(await readToken(file), token);
});

test("readToken trims the file's content", async (t) => {
  const file = join(await tempDir(t), "token");
  await writeFile(file, "  s3cret \n");
  assert.equal(await readToken(file), "s3cret");
});

test("a missing or empty token file is an error naming the file", async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, "nope");
  await assert.rejects(readToken(missing), (error: unknown) => {
    assert.ok(error instanceof SecretFileError);
    assert.match(error.message, new RegExp(`${missing} does not exist`));
    return true;
  });
  const empty = join(dir, "empty");
  await writeFile(empty, "\n");
  await assert.rejects(readToken(empty), new RegExp(`${empty} is empty`));
  await assert.rejects(ensureToken(empty), /is empty/);
});
