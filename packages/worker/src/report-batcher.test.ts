import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeMessage, HandoffChannel, HandoffListener, type ReportMessage } from "@switchyard/handoff";
import { ReportBatcher } from "./report-batcher.js";

describe("ReportBatcher over a real handoff channel", () => {
  let dir: string;
  let listener: HandoffListener;
  let edgeSide: HandoffChannel;
  let workerSide: HandoffChannel;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "report-batcher-"));
    listener = HandoffListener.listen(join(dir, "h.sock"));
    const accepted = new Promise<HandoffChannel>((resolve) => listener.once("channel", resolve));
    workerSide = await HandoffChannel.connect(join(dir, "h.sock"));
    edgeSide = await accepted;
  });

  after(async () => {
    workerSide.close();
    edgeSide.close();
    listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("delivers every close of a huge turn, split into messages that fit", async () => {
    const errors: Error[] = [];
    const batcher = new ReportBatcher(
      () => workerSide,
      (err) => errors.push(err),
    );
    const total = 5000;
    const closed = new Map<number, [number, number]>();
    let messages = 0;
    const done = new Promise<void>((resolve) => {
      edgeSide.on("message", (data: Buffer) => {
        const { message } = decodeMessage(data);
        assert.equal(message.type, "report");
        messages++;
        for (const [id, bytesIn, bytesOut] of (message as ReportMessage).closed)
          closed.set(id, [bytesIn, bytesOut]);
        if (closed.size === total) resolve();
      });
    });
    for (let id = 1; id <= total; id++) {
      batcher.closedConn(id, id * 10, id * 20);
    }
    batcher.flush();
    await done;
    assert.deepEqual(errors, []);
    assert.ok(messages >= 5, `split into ${messages} messages`);
    assert.deepEqual(closed.get(4321), [43210, 86420]);
  });
});
