/**
 * Connections routed to a pool with no worker free wait for one (edge.handoff.waitForWorkerMs),
 * are served by the worker that attaches, and are refused with their protocol's refusal at the
 * deadline or over the pool's bound; the edge's pending count returns to zero on every path.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  type EdgeHarness,
  freePort,
  readLine,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";

interface Setup {
  edge: EdgeHarness;
  port: number;
  workers: TestWorker[];
}

async function setup(t: TestContext, handoff: Record<string, number>): Promise<Setup> {
  const port = await freePort();
  const edge = await startEdge({
    edge: { handoff },
    routes: [
      {
        name: "mx",
        match: { ports: [port] },
        action: { type: "handoff", pool: "mx" },
        refusal: "smtp",
      },
    ],
  });
  const workers: TestWorker[] = [];
  t.after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await edge.stop();
  });
  return { edge, port, workers };
}

async function pending(edge: EdgeHarness): Promise<number> {
  return Number((await unary(edge.admin, "getStats", {})).connectionsPending);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.on("error", reject);
  });
}

/** Collects what arrives until the server closes the connection. */
function untilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    socket.on("close", () => resolve(text));
    socket.resume();
  });
}

describe("connections waiting for a worker", () => {
  it("waits while the pool has no worker, then the worker that attaches serves it", async (t) => {
    const { edge, port, workers } = await setup(t, { waitForWorkerMs: 60_000 });
    const client = await open(port);
    t.after(() => client.destroy());
    client.write("EHLO waiting.test\r\n");
    await waitFor(async () => (await pending(edge)) === 1, { what: "the connection waiting in the edge" });
    workers.push(await startTestWorker(edge, { name: "late", pool: "mx" }));
    const header = JSON.parse(await readLine(client, 30_000)) as { worker: string; route: string };
    assert.equal(header.worker, "late");
    assert.equal(header.route, "mx");
    // The bytes the client sent while it waited reach the worker (echo).
    assert.equal(await readLine(client, 30_000), "EHLO waiting.test\r");
    await waitFor(async () => (await pending(edge)) === 0, { what: "nothing left waiting" });
  });

  it("refuses with the route's refusal (421) at the deadline, and gives its route slot back", async (t) => {
    const { edge, port } = await setup(t, { waitForWorkerMs: 300 });
    const result = await tcpExchange(port, { timeoutMs: 30_000 });
    assert.equal(result.closed, true);
    assert.match(result.data.toString(), /^421 4\.3\.2 /);
    assert.equal(await pending(edge), 0);
    const { routes } = await unary(edge.admin, "getStats", {});
    const mx = routes.find((r) => r.route === "mx");
    assert.deepEqual([Number(mx?.total), Number(mx?.active)], [1, 0]);
  });

  it("refuses at once over the pool's bound, while the ones within it wait and are served", async (t) => {
    const { edge, port, workers } = await setup(t, { waitForWorkerMs: 60_000, maxWaitingPerPool: 2 });
    const first = await open(port);
    const second = await open(port);
    t.after(() => {
      first.destroy();
      second.destroy();
    });
    await waitFor(async () => (await pending(edge)) === 2, { what: "two connections waiting" });
    // The third is over the bound: refused now, not after the 60 s wait.
    const third = await untilClosed(await open(port));
    assert.match(third, /^421 4\.3\.2 /);
    assert.equal(await pending(edge), 2);
    workers.push(await startTestWorker(edge, { name: "late", pool: "mx" }));
    for (const c of [first, second]) {
      const header = JSON.parse(await readLine(c, 30_000)) as { worker: string };
      assert.equal(header.worker, "late");
    }
    await waitFor(async () => (await pending(edge)) === 0, { what: "nothing left waiting" });
  });

  it("waits for a slot when every worker is at capacity, and takes the one a closed connection frees", async (t) => {
    const { edge, port, workers } = await setup(t, { waitForWorkerMs: 60_000 });
    workers.push(await startTestWorker(edge, { name: "one", pool: "mx", capacity: 1 }));
    const busy = await open(port);
    t.after(() => busy.destroy());
    assert.equal(JSON.parse(await readLine(busy, 30_000)).worker, "one");
    const next = await open(port);
    t.after(() => next.destroy());
    await waitFor(async () => (await pending(edge)) === 1, { what: "the second waiting for a slot" });
    busy.destroy();
    assert.equal(JSON.parse(await readLine(next, 30_000)).worker, "one");
    await waitFor(async () => (await pending(edge)) === 0, { what: "nothing left waiting" });
  });
});
