import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  freePort,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";
import { startSteadyLoad } from "../testing/steady-load.js";

describe("drain --replace", () => {
  it("a pool of one is replaced under load without refusing a connection; a plain drain of the last one refuses", async (t) => {
    const port = await freePort();
    const edge = await startEdge({
      // No waiting for a worker: a plain drain of the last one refuses at once.
      edge: { handoff: { waitForWorkerMs: 0 } },
      routes: [{ name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    });
    const workers: TestWorker[] = [];
    t.after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await edge.stop();
    });
    workers.push(await startTestWorker(edge, { name: "old", pool: "svc" }));
    const list = async () => (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers;
    const old = (await list())[0]!;
    const load = startSteadyLoad({
      tcp: [{ name: "svc", port, payload: () => Buffer.from("EHLO replace.test\r\n") }],
      intervalMs: 10,
    });
    await waitFor(() => load.tcp.get("svc")!.answered >= 20, { what: "load answered by the old worker" });
    const { state } = await unary(edge.admin, "drainWorker", { workerId: old.id, replace: true });
    assert.equal(state, "replacing");
    const before = load.tcp.get("svc")!.answered;
    await waitFor(() => load.tcp.get("svc")!.answered >= before + 20, {
      what: "the replacing worker still serves",
    });
    assert.equal((await list()).find((w) => w.id === old.id)?.state, "replacing");
    workers.push(await startTestWorker(edge, { name: "new", pool: "svc" }));
    await waitFor(async () => (await list()).find((w) => w.id === old.id)?.state === "draining", {
      what: "the old worker drains once the successor attached",
    });
    const afterSwap = load.tcp.get("svc")!.answered;
    await waitFor(() => load.tcp.get("svc")!.answered >= afterSwap + 20, { what: "the successor serves" });
    const { tcp } = await load.stop();
    const svc = tcp.get("svc")!;
    assert.deepEqual(
      { refused: svc.refused, reset: svc.reset, unanswered: svc.unanswered, errors: svc.errors.slice(0, 5) },
      { refused: 0, reset: 0, unanswered: 0, errors: [] },
    );
    assert.equal(svc.answered, svc.sent);
    const header = JSON.parse(
      (await tcpExchange(port, { send: "x", end: true })).data.toString().split("\n")[0]!,
    );
    assert.equal(header.worker, "new");
    // The refusing twin: a plain drain of the last ready worker leaves nobody; the client is closed unanswered.
    const successor = (await list()).find((w) => w.instance === "new")!;
    const plain = await unary(edge.admin, "drainWorker", { workerId: successor.id, replace: false });
    assert.equal(plain.state, "draining");
    const refused = await tcpExchange(port, { timeoutMs: 5000 });
    assert.deepEqual([refused.closed, refused.data.length], [true, 0]);
  });
});
