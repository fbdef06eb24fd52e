import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { nodeFileOps } from "./file-ops.js";
import { Spool } from "./spool.js";
import type { NewRecipient } from "./spool-layout.js";
import { SpoolRecovery } from "./spool-recovery.js";

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

const local = (mailbox: string): NewRecipient => ({ original: mailbox, address: mailbox, mailbox });
const envelope = (...mailboxes: string[]) => ({ from: "a@example.org", recipients: mailboxes.map(local) });
const quiet = { info: () => {}, warn: () => {} };

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
