import assert from "node:assert/strict";
import { once } from "node:events";
import { open } from "node:fs/promises";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  countOpenFds,
  type HandoffChannel,
  HandoffClosedError,
  HandoffListener,
  HandoffQueueFullError,
} from "./index.js";
import { exited, settle, spawnOnce, startPeer, suiteSandbox } from "./testing/harness.js";

describe("a peer that dies while we send", () => {
  const sandbox = suiteSandbox();

  it("closes the channel, fails every queued send, and leaks no fd", async () => {
    await spawnOnce();
    const baseline = await countOpenFds();
    const listener = HandoffListener.listen(sandbox.path("dying.sock"));
    const accepted = once(listener, "channel");
    const peer = await startPeer(listener.path, "sink");
    sandbox.peer = peer;
    const [channel] = (await accepted) as [HandoffChannel];
    listener.close();
    let closes = 0;
    channel.on("close", () => closes++);
    const file = await open("/dev/null", "r");
    const payload = Buffer.alloc(200, 7);

    let queued = 0;
    let sentNow = 0;
    let killed = false;
    const outcomes: Array<Error | null> = [];
    let lastError: unknown;
    // Send in bursts, one burst per loop turn, and kill the child in the middle of it.
    while (!channel.closed) {
      for (let i = 0; i < 200; i++) {
        try {
          if (channel.send(payload, [file.fd], (err) => outcomes.push(err))) sentNow++;
          else queued++;
        } catch (err) {
          lastError = err;
          break;
        }
      }
      if (!killed && queued >= 1000 && channel.queued > 0) {
        killed = true;
        peer.child.kill("SIGKILL");
      }
      await nextTurn();
    }
    await exited(peer.child);
    if (closes === 0) await once(channel, "close");
    await nextTurn();

    assert.ok(killed && sentNow > 0, "the child died while sends were waiting");
    assert.equal(closes, 1);
    assert.ok(
      lastError === undefined ||
        lastError instanceof HandoffClosedError ||
        lastError instanceof HandoffQueueFullError,
      `unexpected ${String(lastError)}`,
    );
    assert.equal(outcomes.length, queued, "every queued send completed");
    const failed = outcomes.filter((err) => err !== null);
    assert.ok(failed.length > 0);
    assert.ok(failed.every((err) => err instanceof HandoffClosedError));
    assert.throws(() => channel.send(payload, [file.fd]), HandoffClosedError);
    await file.close();
    assert.equal(await settle(countOpenFds, baseline), baseline);
  });
});
