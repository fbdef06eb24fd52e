import assert from "node:assert/strict";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { closeNats, connectNats, createLogger, openKv } from "@switchyard/runtime";
import { freePort, startNatsServer } from "./nats-server.js";

/** A logger whose JSON lines a test can wait for. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      for (const wake of waiters.splice(0)) wake();
      callback();
    },
  });
  const waitFor = async (msg: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const line = lines.find((entry) => entry["msg"] === msg);
      if (line) return line;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { logger: createLogger("test", { destination }), lines, waitFor };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("freePort returns a bindable loopback port", async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
});

test("a JetStream server accepts clients and KV writes, and stop() ends it and removes its files", async (t) => {
  const server = await startNatsServer({ jetstream: true });
  t.after(() => server.stop());
  const { logger } = capturedLogger();
  const nc = await connectNats({ servers: server.url, name: "testkit-test", logger });
  t.after(() => nc.close());

  const kv = await openKv(nc, "testkit", { history: 1 });
  await kv.put("greeting", "hello");
  assert.equal((await kv.get("greeting"))?.string(), "hello");
  // Opening an existing bucket returns it instead of failing.
  const again = await openKv(nc, "testkit", { history: 1 });
  assert.equal((await again.get("greeting"))?.string(), "hello");

  await nc.close();
  await server.stop();
  assert.equal(isRunning(server.pid), false);
  await assert.rejects(access(server.storeDir));
});

test("a client survives a server restart and logs the disconnect and the reconnect", async (t) => {
  const first = await startNatsServer();
  t.after(() => first.stop());
  const { logger, waitFor } = capturedLogger();
  const nc = await connectNats({ servers: first.url, name: "reconnect-test", logger });
  t.after(() => nc.close());

  await first.stop();
  await waitFor("nats disconnected");
  const second = await startNatsServer({ port: first.port });
  t.after(() => second.stop());
  await waitFor("nats reconnected");
  await nc.flush();
});

test("a server that requires a token admits a client that reads it from tokenFile", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-nats-token-${process.pid}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "nats.token");
  await writeFile(tokenFile, "s3cret-token\n", { mode: 0o600 });
  const server = await startNatsServer({ jetstream: true, token: "s3cret-token" });
  t.after(() => server.stop());
  const { logger } = capturedLogger();
  const nc = await connectNats({ servers: server.url, name: "token-test", logger, tokenFile });
  t.after(() => nc.close());
  const kv = await openKv(nc, "token-test", { history: 1 });
  await kv.put("k", "v");
  assert.equal((await kv.get("k"))?.string(), "v");
  await assert.rejects(
    connectNats({ servers: server.url, name: "t", logger, tokenFile: join(dir, "missing") }),
    /nats: token file .*missing cannot be read/,
  );
});

test("closeNats drains a connected client (its publishes arrive) and closes one whose server is away at once", async (t) => {
  const server = await startNatsServer({});
  t.after(() => server.stop());
  const { logger, waitFor } = capturedLogger();
  const listener = await connectNats({ servers: server.url, name: "listener", logger });
  t.after(() => listener.close());
  const got: string[] = [];
  const sub = listener.subscribe("closing.test", {
    callback: (_err, msg) => {
      got.push(msg.string());
    },
  });
  await listener.flush();
  const sender = await connectNats({ servers: server.url, name: "sender", logger });
  sender.publish("closing.test", "last words");
  await closeNats(sender, 600_000);
  assert.equal(sender.isClosed(), true);
  await listener.flush();
  assert.deepEqual(got, ["last words"]);
  sub.unsubscribe();

  const orphan = await connectNats({ servers: server.url, name: "orphan", logger });
  await server.stop();
  await waitFor("nats disconnected");
  // A drain would wait for the server to come back: with a 10-minute deadline this test would time out.
  await closeNats(orphan, 600_000);
  assert.equal(orphan.isClosed(), true);
});
