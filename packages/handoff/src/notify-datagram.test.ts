import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { NotifySendError } from "./errors.js";
import { closeFd } from "./fds.js";
import { DatagramReceiver, sendDatagram } from "./notify-datagram.js";

const dir = mkdtempSync(join(tmpdir(), "notify-datagram-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a datagram to a path arrives with its text and the sender's pid", () => {
  const receiver = new DatagramReceiver(join(dir, "path.sock"));
  try {
    sendDatagram(receiver.address, "READY=1\nMAINPID=42");
    assert.deepEqual(receiver.receive(), { text: "READY=1\nMAINPID=42", fds: [], pid: process.pid });
    assert.equal(receiver.receive(), undefined);
  } finally {
    receiver.close();
  }
});

test("a datagram to an abstract address ('@') arrives", () => {
  const receiver = new DatagramReceiver(`@switchyard-test-${process.pid}`);
  try {
    sendDatagram(receiver.address, "STOPPING=1");
    assert.equal(receiver.receive()?.text, "STOPPING=1");
  } finally {
    receiver.close();
  }
});

test("fds sent arrive as new fds for the same socket: a connection to the received listener is accepted", async () => {
  const server = createServer((socket) => socket.end("hello"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver = new DatagramReceiver(join(dir, "fds.sock"));
  try {
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    sendDatagram(receiver.address, "FDSTORE=1\nFDNAME=tcp_127.0.0.1_1", [fd]);
    const got = receiver.receive();
    assert.equal(got?.text, "FDSTORE=1\nFDNAME=tcp_127.0.0.1_1");
    assert.equal(got?.fds.length, 1);
    assert.notEqual(got?.fds[0], fd);
    const port = (server.address() as { port: number }).port;
    server.close();
    // The original is closed: the received fd keeps the port listening, so a connection waits in its backlog.
    const client = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
    client.destroy();
    for (const f of got?.fds ?? []) closeFd(f);
  } finally {
    receiver.close();
    server.close();
  }
});

test("nobody bound at the address: NotifySendError with the system's code", () => {
  assert.throws(
    () => sendDatagram(join(dir, "nobody.sock"), "READY=1"),
    (err: unknown) => err instanceof NotifySendError && err.code === "ENOENT",
  );
});

test("cross-check with Debian's systemd-notify as the sender: its datagram arrives whole", () => {
  const receiver = new DatagramReceiver(join(dir, "systemd-notify.sock"));
  try {
    execFileSync("/usr/bin/systemd-notify", ["--no-block", "--ready", "--pid=4242", "STATUS=cross-check"], {
      env: { ...process.env, NOTIFY_SOCKET: receiver.address },
    });
    const got = receiver.receive();
    assert.deepEqual(got?.text.split("\n").sort(), ["MAINPID=4242", "READY=1", "STATUS=cross-check"]);
    assert.deepEqual(got?.fds, []);
  } finally {
    receiver.close();
  }
});
