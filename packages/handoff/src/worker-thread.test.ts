import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "./testing/harness.js";

const FIXTURE = new URL("./testing/worker-teardown.js", import.meta.url).pathname;

describe("handoff in a worker thread", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it("closes open sockets when the worker ends or is terminated, without crashing the process", async () => {
    // execFile rejects on a non-zero exit or a signal (a crash would be SIGSEGV).
    const { stdout } = await promisify(execFile)(process.execPath, [FIXTURE, dir.path("")], {
      timeout: 60_000,
    });
    const { before: fdsBefore, after: fdsAfter } = JSON.parse(stdout) as { before: number; after: number };
    assert.equal(fdsAfter, fdsBefore, "the workers' sockets were closed with them");
  });
});
