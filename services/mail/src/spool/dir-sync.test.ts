import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DirSyncer } from "./dir-sync.js";

/** A syncDir whose rounds finish when the test says so, recording when each started. */
function manualSync() {
  const started: Array<{ dir: string; finish: (err?: Error) => void }> = [];
  return {
    started,
    ops: {
      syncDir: (dir: string) =>
        new Promise<void>((resolve, reject) => {
          started.push({ dir, finish: (err) => (err ? reject(err) : resolve()) });
        }),
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("directory fsync group commit", () => {
  it("starts a lone caller's fsync in the same turn: no window waiting for company", async () => {
    const { started, ops } = manualSync();
    const syncer = new DirSyncer(ops);
    const lone = syncer.sync("/m/new");
    assert.equal(started.length, 1, "the fsync was asked for before sync() returned");
    started[0]?.finish();
    await lone;
    // And again once it is over: the next lone caller does not wait either.
    const next = syncer.sync("/m/new");
    assert.equal(started.length, 2);
    started[1]?.finish();
    await next;
    assert.equal(syncer.rounds, 2);
  });

  it("answers callers that came during an fsync only with the next one, which they all share", async () => {
    const { started, ops } = manualSync();
    const syncer = new DirSyncer(ops);
    const done: string[] = [];
    const first = syncer.sync("/q/work").then(() => done.push("first"));
    await tick();
    const later = ["a", "b", "c"].map((n) => syncer.sync("/q/work").then(() => done.push(n)));
    await tick();
    assert.equal(started.length, 1, "one fsync under way; the others wait for the next");
    started[0]?.finish();
    await first;
    await tick();
    assert.deepEqual(done, ["first"], "a caller is never answered by an fsync that started before it asked");
    assert.equal(started.length, 2, "the three waiting callers share one fsync");
    started[1]?.finish();
    await Promise.all(later);
    assert.deepEqual(done, ["first", "a", "b", "c"]);
    assert.equal(syncer.rounds, 2);
  });

  it("keeps directories apart and fails only the callers of a failed fsync", async () => {
    const { started, ops } = manualSync();
    const syncer = new DirSyncer(ops);
    const work = syncer.sync("/q/work");
    const maildir = syncer.sync("/m/new");
    await tick();
    assert.deepEqual(
      started.map((s) => s.dir),
      ["/q/work", "/m/new"],
    );
    started[0]?.finish(Object.assign(new Error("EIO"), { code: "EIO" }));
    started[1]?.finish();
    await assert.rejects(work, /EIO/);
    await maildir;
    const again = syncer.sync("/q/work");
    await tick();
    started[2]?.finish();
    await again;
  });
});
