import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { read } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  closeFd,
  countOpenFds,
  HandoffChannel,
  HandoffClosedError,
  HandoffConnectError,
  HandoffListener,
  HandoffProtocolError,
} from "../index.js";
import { runPython, settle, spawnOnce, tempDir, waitUntil } from "../testing/harness.js";

interface Received {
  data: Buffer;
  fds: number[];
}

/** Collects 'message' events; next(n) resolves with the first n. */
function collect(channel: HandoffChannel): { all: Received[]; next: (n: number) => Promise<Received[]> } {
  const all: Received[] = [];
  channel.on("message", (data: Buffer, fds: number[]) => all.push({ data, fds }));
  return {
    all,
    next: async (n) => {
      await waitUntil(() => all.length >= n);
      return all.splice(0, n);
    },
  };
}

async function pair(
  path: string,
): Promise<{ listener: HandoffListener; a: HandoffChannel; b: HandoffChannel }> {
  const listener = HandoffListener.listen(path);
  const accepted = once(listener, "channel");
  const a = await HandoffChannel.connect(path);
  const [b] = (await accepted) as [HandoffChannel];
  return { listener, a, b };
}

describe("handoff channel", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let baseline: number;
  before(async () => {
    dir = await tempDir();
    await spawnOnce();
    baseline = await countOpenFds();
  });
  after(async () => {
    assert.equal(await settle(countOpenFds, baseline), baseline, "every fd the tests opened is closed");
    await dir.remove();
  });

  it("delivers messages with and without fds in both directions, byte for byte and in order", async () => {
    const { listener, a, b } = await pair(dir.path("both.sock"));
    const fromA = collect(b);
    const fromB = collect(a);
    const file = await open(dir.path("payload.txt"), "w+");
    const sizes = [1, 200, 4096, 65536, 3, 0];
    const payloads = sizes.map((size) => randomBytes(size));
    for (const [i, payload] of payloads.entries()) {
      const fds = i % 2 === 0 || payload.length === 0 ? [file.fd] : [];
      a.send(payload, fds);
      b.send(payload, fds);
    }
    for (const inbox of [fromA, fromB]) {
      const got = await inbox.next(payloads.length);
      for (const [i, message] of got.entries()) {
        assert.deepEqual(message.data, payloads[i]);
        assert.equal(message.fds.length, i % 2 === 0 || payloads[i]!.length === 0 ? 1 : 0);
        for (const fd of message.fds) closeFd(fd);
      }
    }
    await file.close();
    a.close();
    b.close();
    listener.close();
  });

  it("passes an open file: the receiver reads it through the fd it got", async () => {
    const { listener, a, b } = await pair(dir.path("file.sock"));
    const inbox = collect(b);
    const content = randomBytes(1000);
    await writeFile(dir.path("shared.bin"), content);
    const file = await open(dir.path("shared.bin"), "r");
    const fds = Array.from({ length: 16 }, () => file.fd);
    assert.equal(a.send(Buffer.from("sixteen"), fds), true);
    await file.close(); // the kernel took its own references
    const [message] = await inbox.next(1);
    assert.equal(message!.fds.length, 16);
    assert.equal(new Set(message!.fds).size, 16, "each received fd is a new descriptor");
    const readBack = Buffer.alloc(content.length);
    await promisify(read)(message!.fds[15]!, readBack, 0, readBack.length, 0);
    assert.deepEqual(readBack, content);
    for (const fd of message!.fds) closeFd(fd);
    a.close();
    b.close();
    listener.close();
  });

  it("refuses messages it cannot send whole, and sends on a closed channel", async () => {
    const { listener, a, b } = await pair(dir.path("limits.sock"));
    assert.throws(() => a.send(Buffer.alloc(65537)), RangeError);
    assert.throws(
      () =>
        a.send(
          Buffer.from("x"),
          Array.from({ length: 17 }, () => 0),
        ),
      RangeError,
    );
    assert.throws(() => a.send(Buffer.alloc(0)), RangeError);
    assert.throws(() => a.send(Buffer.from("x"), [-1]), TypeError);
    const closed = once(a, "close");
    const peerSaw = once(b, "close"); // the peer sees the hang-up
    a.close();
    a.close();
    await closed;
    assert.throws(() => a.send(Buffer.from("x")), HandoffClosedError);
    await peerSaw;
    listener.close();
  });

  it("delivers what the peer sent before it closed, fds included, also when it left our message unread", async () => {
    for (const unread of [false, true]) {
      const { listener, a, b } = await pair(dir.path(`unread-${unread}.sock`));
      const inbox = collect(a);
      const closed = once(a, "close");
      const file = await open(dir.path("unread.bin"), "w");
      // All in one turn: b never reads a's message before it closes. The kernel then reports
      // ECONNRESET to a ahead of b's messages (the edge closing a worker's channel with its close
      // reports unread): they must still arrive, then 'close'.
      if (unread) assert.equal(a.send(Buffer.from("report")), true);
      for (let i = 0; i < 3; i++) assert.equal(b.send(Buffer.from(`conn-${i}`), [file.fd]), true);
      b.close();
      await file.close();
      await closed;
      assert.deepEqual(
        inbox.all.map((m) => [m.data.toString(), m.fds.length]),
        [
          ["conn-0", 1],
          ["conn-1", 1],
          ["conn-2", 1],
        ],
        unread ? "with our message unread by the peer" : "with nothing unread",
      );
      for (const m of inbox.all) for (const fd of m.fds) closeFd(fd);
      listener.close();
    }
  });

  it("a send that finds the peer gone fails, and what the peer sent before still arrives, then 'close'", async () => {
    const { listener, a, b } = await pair(dir.path("gone.sock"));
    const inbox = collect(a);
    const closed = once(a, "close");
    const file = await open(dir.path("gone.bin"), "w");
    for (let i = 0; i < 2; i++) assert.equal(b.send(Buffer.from(`conn-${i}`), [file.fd]), true);
    b.close();
    await file.close();
    // Before a has read b's messages and EOF (a worker's close report racing the edge's close).
    assert.throws(() => a.send(Buffer.from("report")), HandoffClosedError);
    assert.throws(() => a.send(Buffer.from("report")), HandoffClosedError);
    await closed;
    assert.deepEqual(
      inbox.all.map((m) => [m.data.toString(), m.fds.length]),
      [
        ["conn-0", 1],
        ["conn-1", 1],
      ],
    );
    for (const m of inbox.all) for (const fd of m.fds) closeFd(fd);
    listener.close();
  });

  it("emits 'close' once on each end, whichever end closes", async () => {
    const { listener, a, b } = await pair(dir.path("close.sock"));
    let closesA = 0;
    let closesB = 0;
    a.on("close", () => closesA++);
    b.on("close", () => closesB++);
    b.close();
    await waitUntil(() => closesA === 1 && closesB === 1);
    a.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([closesA, closesB], [1, 1]);
    listener.close();
  });

  it("rejects connect with HandoffConnectError when nobody listens", async () => {
    const missing = dir.path("missing.sock");
    await assert.rejects(HandoffChannel.connect(missing), (err: unknown) => {
      assert.ok(err instanceof HandoffConnectError);
      assert.equal(err.code, "ENOENT");
      assert.equal(err.path, missing);
      assert.match(err.message, /missing\.sock: no socket file/);
      return true;
    });
    const stale = dir.path("stale.sock");
    await runPython(
      "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])",
      stale,
    );
    await assert.rejects(HandoffChannel.connect(stale), {
      name: "HandoffConnectError",
      code: "ECONNREFUSED",
    });
  });

  it("drops truncated and over-full messages, closes their fds, and keeps the channel usable", async () => {
    const path = dir.path("protocol.sock");
    const listener = HandoffListener.listen(path);
    const accepted = once(listener, "channel");
    const errors: HandoffProtocolError[] = [];
    const peer = runPython(
      `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.sendmsg([b"x" * 70000])
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(20)]
s.sendmsg([b"many"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
for fd in fds: os.close(fd)
s.sendmsg([b"ok"])
s.recv(1)
`,
      path,
    );
    const [channel] = (await accepted) as [HandoffChannel];
    channel.on("error", (err: HandoffProtocolError) => errors.push(err));
    const inbox = collect(channel);
    const [message] = await inbox.next(1);
    assert.equal(message!.data.toString(), "ok");
    assert.equal(errors.length, 2);
    assert.ok(errors.every((err) => err instanceof HandoffProtocolError));
    assert.match(errors[0]!.message, /larger than 65536/);
    assert.match(errors[1]!.message, /more than 16 fds/);
    assert.equal(errors[1]!.fds, 16, "the 16 fds that arrived were closed (the kernel dropped the rest)");
    channel.close();
    await peer;
    listener.close();
  });
});
