import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeMessage, type HandoffChannel } from "@switchyard/handoff";
import { createLogger } from "@switchyard/runtime";
import type { AcceptedConnection } from "../accept/accepted-connection.js";
import type { Intake } from "../accept/connection-intake.js";
import { HandoffDispatcher, type HandoffRequest } from "./handoff-dispatcher.js";
import { WorkerRegistry } from "./worker-registry.js";

/** A worker whose channel records each send (data, fds) and takes it at once. */
function setup(batch: boolean) {
  const registry = new WorkerRegistry();
  const sends: Array<{ data: Buffer; fds: number[] }> = [];
  const channel = {
    send(data: Buffer, fds: number[]) {
      sends.push({ data, fds: [...fds] });
      return true;
    },
  } as unknown as HandoffChannel;
  const w = registry.register({ role: "test", pool: "p", capacity: 0, instance: "w", pid: 1 });
  registry.attach(w.id, w.token as string, channel);
  const dispatcher = new HandoffDispatcher(registry, createLogger("test", { level: "silent" }), batch);
  const released: string[] = [];
  const closed: number[] = [];
  const request = (fd: number, replay: string): HandoffRequest => ({
    conn: {
      fd,
      isClosed: false,
      close: () => closed.push(fd),
    } as unknown as AcceptedConnection,
    route: "r",
    pool: "p",
    refusal: "close",
    intake: {
      clientIp: "192.0.2.1",
      clientPort: 1000 + fd,
      localIp: "127.0.0.1",
      localPort: 25,
      proxied: false,
      replay: Buffer.from(replay),
      tls: false,
      http: false,
    } as Intake,
    lease: { release: (outcome) => released.push(outcome) },
  });
  return { dispatcher, sends, request, closed, released, worker: w };
}

describe("HandoffDispatcher", () => {
  it("sends the connections one turn gives one worker in one message, fds and routing bytes in order", async () => {
    const { dispatcher, sends, request, closed, worker } = setup(true);
    dispatcher.dispatch(request(11, "aa"));
    dispatcher.dispatch(request(12, ""));
    dispatcher.dispatch(request(13, "ccc"));
    assert.equal(sends.length, 0, "nothing sent before the turn ends");
    await Promise.resolve();
    assert.equal(sends.length, 1);
    const { data, fds } = sends[0]!;
    assert.deepEqual(fds, [11, 12, 13]);
    const { message, payload } = decodeMessage(data);
    assert.equal(message.type, "conns");
    assert.deepEqual(
      (message as { conns: Array<{ replay: number; remote: { port: number } }> }).conns.map((c) => [
        c.replay,
        c.remote.port,
      ]),
      [
        [2, 1011],
        [0, 1012],
        [3, 1013],
      ],
    );
    assert.equal(payload.toString(), "aaccc");
    assert.deepEqual(closed, [11, 12, 13], "the edge's copies are closed once sent");
    assert.equal(worker.conns.size, 3);
    assert.equal(dispatcher.openRecords, 3);
  });

  it("splits a burst at 16 fds per message", async () => {
    const { dispatcher, sends, request } = setup(true);
    for (let fd = 100; fd < 120; fd++) dispatcher.dispatch(request(fd, "x"));
    await Promise.resolve();
    assert.deepEqual(
      sends.map((s) => s.fds.length),
      [16, 4],
    );
  });

  it("with batching off (the old path), one conn message per connection", async () => {
    const { dispatcher, sends, request } = setup(false);
    dispatcher.dispatch(request(21, "a"));
    dispatcher.dispatch(request(22, "b"));
    assert.deepEqual(
      sends.map((s) => [decodeMessage(s.data).message.type, s.fds]),
      [
        ["conn", [21]],
        ["conn", [22]],
      ],
    );
    await Promise.resolve();
    assert.equal(sends.length, 2);
  });
});
