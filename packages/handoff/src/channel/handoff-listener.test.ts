import assert from "node:assert/strict";
import { once } from "node:events";
import { stat } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { HandoffChannel, HandoffError, HandoffListener } from "../index.js";
import { exited, type Peer, runPython, startPeer, tempDir, waitUntil } from "../testing/harness.js";

describe("handoff listener", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const peers: Peer[] = [];
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await Promise.all(peers.map((peer) => peer.stop()));
    await dir.remove();
  });

  it("creates the socket file with mode 0o660 by default, or the mode asked for", async () => {
    const byDefault = HandoffListener.listen(dir.path("default.sock"));
    const strict = HandoffListener.listen(dir.path("strict.sock"), { mode: 0o600 });
    const defaultStat = await stat(byDefault.path);
    assert.ok(defaultStat.isSocket());
    assert.equal(defaultStat.mode & 0o777, 0o660);
    assert.equal((await stat(strict.path)).mode & 0o777, 0o600);
    byDefault.close();
    strict.close();
    assert.throws(() => HandoffListener.listen(dir.path("bad.sock"), { mode: 0o4777 }), RangeError);
  });

  it("tells each end who the other process is (SO_PEERCRED)", async () => {
    const listener = HandoffListener.listen(dir.path("cred.sock"));
    const accepted = once(listener, "channel");
    const peer = await startPeer(listener.path, "sink");
    peers.push(peer);
    const [channel] = (await accepted) as [HandoffChannel];
    assert.deepEqual(channel.peer, { pid: peer.pid, uid: process.getuid!(), gid: process.getgid!() });
    assert.equal(peer.child.pid, peer.pid);
    assert.deepEqual(peer.peer, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    channel.close();
    await exited(peer.child); // the peer exits when its channel closes
    listener.close();
  });

  it("replaces a stale socket file but refuses a path a live listener owns", async () => {
    const path = dir.path("stale.sock");
    await runPython(
      "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])",
      path,
    );
    const listener = HandoffListener.listen(path);
    assert.throws(
      () => HandoffListener.listen(path),
      (err: unknown) => err instanceof HandoffError && (err.cause as { code?: string }).code === "EADDRINUSE",
    );
    const accepted = once(listener, "channel");
    const client = await HandoffChannel.connect(path);
    const [server] = (await accepted) as [HandoffChannel];
    client.close();
    server.close();
    listener.close();
  });

  it("close() removes the socket file and leaves accepted channels working", async () => {
    const listener = HandoffListener.listen(dir.path("close.sock"));
    const accepted = once(listener, "channel");
    const client = await HandoffChannel.connect(listener.path);
    const [server] = (await accepted) as [HandoffChannel];
    listener.close();
    listener.close();
    await assert.rejects(stat(listener.path), { code: "ENOENT" });
    await assert.rejects(HandoffChannel.connect(listener.path), { code: "ENOENT" });
    const got: string[] = [];
    server.on("message", (data: Buffer) => got.push(data.toString()));
    client.send(Buffer.from("still here"));
    await waitUntil(() => got.length === 1);
    assert.deepEqual(got, ["still here"]);
    client.close();
    server.close();
  });
});
