import assert from "node:assert/strict";
import { once } from "node:events";
import { open } from "node:fs/promises";
import { describe, it } from "node:test";
import { countOpenFds, type HandoffChannel, HandoffListener, HandoffQueueFullError } from "./index.js";
import { exited, fdCountOf, settle, startPeer, suiteSandbox, waitUntil } from "./testing/harness.js";

const MAX_QUEUED = 64;

describe("a peer that does not read", () => {
  const sandbox = suiteSandbox();

  it("queues once the socket is full, refuses past maxQueued, then delivers everything in order", async () => {
    const listener = HandoffListener.listen(sandbox.path("slow.sock"), { maxQueued: MAX_QUEUED });
    const accepted = once(listener, "channel");
    const peer = await startPeer(listener.path, "ack");
    sandbox.peer = peer; // echoes every message's data back
    const [channel] = (await accepted) as [HandoffChannel];
    listener.close();
    const acks: string[] = [];
    channel.on("message", (data: Buffer) => acks.push(data.toString()));
    const parentBaseline = await countOpenFds();
    const childBaseline = await fdCountOf(peer.pid);

    peer.child.kill("SIGSTOP"); // the peer stops reading: its receive queue fills up
    const file = await open("/dev/null", "r");
    const results: boolean[] = [];
    const done: Array<[number, Error | null]> = [];
    let refusal: unknown;
    for (let i = 0; refusal === undefined; i++) {
      const data = Buffer.from(`message ${i}`.padEnd(200, "."));
      try {
        results.push(channel.send(data, [file.fd], (err) => done.push([i, err])));
      } catch (err) {
        refusal = err;
      }
    }
    const sentNow = results.indexOf(false);
    assert.ok(sentNow > 0, "the first messages went straight to the kernel");
    assert.ok(
      results.slice(sentNow).every((r) => r === false),
      "after the first false, every send was queued (order is kept)",
    );
    assert.equal(results.length - sentNow, MAX_QUEUED);
    assert.equal(channel.queued, MAX_QUEUED);
    assert.ok(refusal instanceof HandoffQueueFullError);
    assert.equal(done.length, 0);

    peer.child.kill("SIGCONT");
    await waitUntil(() => acks.length === results.length && done.length === MAX_QUEUED);
    assert.deepEqual(
      acks.map((ack) => ack.replace(/\.+$/, "")),
      results.map((_, i) => `message ${i}`),
    );
    assert.deepEqual(
      done,
      results.slice(sentNow).map((_, k) => [sentNow + k, null]),
      "onQueuedDone fired once per queued message, in order, without error",
    );
    assert.equal(channel.queued, 0);

    await file.close();
    assert.equal(await settle(countOpenFds, parentBaseline), parentBaseline);
    assert.equal(await settle(() => fdCountOf(peer!.pid), childBaseline), childBaseline);
    channel.close();
    await exited(peer.child);
  });
});
