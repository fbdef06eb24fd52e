import assert from "node:assert/strict";
import { once } from "node:events";
import { openSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  closeFd,
  decodeMessage,
  encodeMessage,
  type HandoffChannel,
  HandoffListener,
} from "@switchyard/handoff";
import { edgeV1 } from "@switchyard/proto";
import { createGrpcServer, createLogger, type GrpcServer } from "@switchyard/runtime";
import { EdgeWorker } from "./edge-worker.js";

const TOKEN = "leave-test-token";

/** What the fake edge does when the worker deregisters. */
type OnDeregister = (channel: HandoffChannel) => void;

/**
 * A fake edge: EdgeControl over gRPC and a handoff socket that answers attach. Its deregister runs
 * the test's `onDeregister` with the worker's channel.
 */
async function fakeEdge(dir: string) {
  const logger = createLogger("fake-edge", { level: "silent" });
  const listener = HandoffListener.listen(join(dir, `handoff-${Math.random().toString(36).slice(2)}.sock`));
  let channel: HandoffChannel | undefined;
  let onDeregister: OnDeregister = () => {};
  let deregistered = 0;
  listener.on("channel", (ch: HandoffChannel) => {
    ch.on("error", () => {});
    ch.on("message", (data: Buffer, fds: number[]) => {
      for (const fd of fds) closeFd(fd);
      if (decodeMessage(data).message.type !== "attach") return;
      channel = ch;
      ch.send(encodeMessage({ type: "attached", workerId: "w-1", udp: [] }));
    });
  });
  const server: GrpcServer = createGrpcServer({ logger, token: TOKEN, service: "fake-edge" });
  server.add(edgeV1.EdgeControlService, {
    register: () => ({
      workerId: "w-1",
      handoffPath: listener.path,
      token: "t",
      heartbeatIntervalMs: 60_000,
    }),
    heartbeat: () => ({ known: true, drain: false }),
    deregister: () => {
      deregistered++;
      if (channel) onDeregister(channel);
      return {};
    },
  });
  const port = await server.listen("127.0.0.1:0");
  return {
    address: `127.0.0.1:${port}`,
    get channel() {
      return channel;
    },
    get deregistered() {
      return deregistered;
    },
    set onDeregister(f: OnDeregister) {
      onDeregister = f;
    },
    /** Only the gRPC side goes: deregister fails, the handoff channel stays open. */
    stopGrpc: () => server.shutdown(1000),
    async close() {
      channel?.close();
      listener.close();
      await server.shutdown(1000);
    },
  };
}

/** A `conn` message carrying one fd (a file: the worker takes it raw, through onConnectionFd). */
function sendConn(channel: HandoffChannel, id: number): void {
  const fd = openSync("/dev/null", "r");
  const frame = encodeMessage(
    {
      type: "conn",
      id,
      route: "r",
      remote: { address: "127.0.0.1", port: 1 },
      local: { address: "127.0.0.1", port: 2 },
      proxied: false,
    },
    Buffer.from("x"),
  );
  channel.send(frame, [fd], () => closeFd(fd));
  closeFd(fd); // sent now (the test sends little): the kernel holds its own reference
}

function worker(edge: string, extra: { leaveDrainMs?: number } = {}) {
  const warnings: string[] = [];
  const logger = createLogger("leave-test", { level: "warn" });
  (logger as unknown as Record<string, unknown>).warn = (_fields: object, msg: string) => warnings.push(msg);
  const adopted: number[] = [];
  const w = new EdgeWorker({
    edge,
    token: TOKEN,
    role: "test",
    pool: "test",
    logger,
    onConnection: () => assert.fail("connections are taken as fds here"),
    onConnectionFd(fd, _replay, info, ended) {
      adopted.push(info.id);
      closeFd(fd);
      ended(0, 0);
    },
    ...extra,
  });
  return { w, warnings, adopted };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe("EdgeWorker.leave()", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "worker-leave-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("adopts the connections the edge sends until it closes the channel after deregister", async () => {
    const edge = await fakeEdge(dir);
    const { w, adopted, warnings } = worker(edge.address, { leaveDrainMs: 30_000 });
    try {
      w.start();
      await w.waitAttached();
      // Two sent before the edge takes the worker out, two that reach the worker after deregister
      // answered (a busy edge), then the close: all four are the worker's.
      edge.onDeregister = (channel) => {
        sendConn(channel, 1);
        sendConn(channel, 2);
        setTimeout(() => {
          sendConn(channel, 3);
          sendConn(channel, 4);
          channel.close();
        }, 50);
      };
      await w.leave();
      assert.deepEqual(adopted, [1, 2, 3, 4]);
      assert.deepEqual(warnings, []);
      assert.equal(w.attached, false);
    } finally {
      await w.stop();
      await edge.close();
    }
  });

  it("an edge that never closes the channel: leave() ends after leaveDrainMs and closes it", async () => {
    const edge = await fakeEdge(dir);
    const { w, adopted, warnings } = worker(edge.address, { leaveDrainMs: 100 });
    try {
      w.start();
      await w.waitAttached();
      edge.onDeregister = (channel) => sendConn(channel, 7);
      const channel = edge.channel!;
      const closedByWorker = once(channel, "close");
      await w.leave();
      await closedByWorker;
      assert.deepEqual(adopted, [7]);
      assert.deepEqual(warnings, ["edge did not close the handoff channel after deregister; closing it now"]);
    } finally {
      await w.stop();
      await edge.close();
    }
  });

  it("stop() during the wait ends it: leave() and stop() resolve, the channel is closed", async () => {
    const edge = await fakeEdge(dir);
    // Long enough that only stop() can end the wait within the test's timeout.
    const { w, warnings } = worker(edge.address, { leaveDrainMs: 600_000 });
    w.start();
    await w.waitAttached();
    const channel = edge.channel!;
    const closedByWorker = once(channel, "close");
    const leaving = w.leave();
    const again = w.leave();
    await waitUntil(() => edge.deregistered === 1);
    await w.stop();
    await Promise.all([leaving, again, closedByWorker]);
    assert.equal(edge.deregistered, 1, "one deregister for both leave() calls");
    assert.deepEqual(warnings, []);
    await edge.close();
  });

  it("a failed deregister: leave() closes the channel at once, as before", async () => {
    const edge = await fakeEdge(dir);
    const { w, warnings } = worker(edge.address, { leaveDrainMs: 600_000 });
    w.start();
    await w.waitAttached();
    const channel = edge.channel!;
    const closedByWorker = once(channel, "close");
    // The gRPC server goes away; the handoff channel stays open and is never closed by the edge.
    await edge.stopGrpc();
    await w.leave();
    await closedByWorker;
    assert.ok(warnings.some((m) => m.startsWith("deregister failed")));
    await w.stop();
    await edge.close();
  });
});
