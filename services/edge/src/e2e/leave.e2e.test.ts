import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import { freePort, startEdge, startTestWorker, type TestWorker, waitFor } from "@switchyard/testkit";

type Outcome = "answered" | "reset" | "closed" | "timeout" | "refused";

/**
 * One client connection to the test worker (echo mode): sends a line, expects the worker's header
 * line and the line echoed back, then ends. Every connection ends in exactly one outcome.
 */
function exchange(port: number, i: number, served: string[], onConnect?: () => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const line = `leave-${i}\n`;
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    let outcome: Outcome | undefined;
    const settle = (o: Outcome) => {
      outcome ??= o;
    };
    // A bound on a connection that never gets its answer, not a timing assertion.
    const timer = setTimeout(() => {
      settle("timeout");
      socket.destroy();
    }, 10_000);
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      socket.write(line);
      onConnect?.();
    });
    socket.on("data", (chunk: string) => {
      data += chunk;
      const nl = data.indexOf("\n");
      if (nl >= 0 && data.slice(nl + 1).startsWith(line) && outcome === undefined) {
        served.push((JSON.parse(data.slice(0, nl)) as { worker: string }).worker);
        settle("answered");
        socket.end();
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      settle(err.code === "ECONNRESET" ? "reset" : err.code === "ECONNREFUSED" ? "refused" : "closed"),
    );
    socket.on("close", () => {
      clearTimeout(timer);
      settle("closed");
      resolve(outcome ?? "closed");
    });
  });
}

/** A connection answered by a worker and held open until `end()`; `closed` settles when it is over. */
async function held(port: number, i: number): Promise<{ worker: string; end: () => Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setEncoding("utf8");
  socket.on("error", () => {});
  const line = `held-${i}\n`;
  socket.write(line);
  let data = "";
  const worker = await new Promise<string>((resolve, reject) => {
    socket.on("data", (chunk: string) => {
      data += chunk;
      const nl = data.indexOf("\n");
      if (nl >= 0 && data.slice(nl + 1).startsWith(line))
        resolve((JSON.parse(data.slice(0, nl)) as { worker: string }).worker);
    });
    socket.once("close", () => reject(new Error(`held connection ${i} closed unanswered`)));
  });
  socket.removeAllListeners("close");
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    worker,
    end: () => {
      socket.end();
      return closed;
    },
  };
}

describe("a worker leaving under load (SIGTERM: deregister)", () => {
  it("adopts every connection the edge sent it before deregister: all clients answered, none reset", async (t) => {
    const port = await freePort();
    const edge = await startEdge({
      routes: [{ name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    });
    const workers: TestWorker[] = [];
    t.after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await edge.stop();
    });
    const leaving = await startTestWorker(edge, { name: "leaving", pool: "svc" });
    workers.push(leaving);
    workers.push(await startTestWorker(edge, { name: "staying", pool: "svc" }));

    // A steady stream of new connections, 32 at a time, 300 in all; the leaving worker gets SIGTERM
    // once 60 were answered, while the rest still arrive.
    const total = 300;
    const lanes = 32;
    const outcomes = new Map<Outcome, number>();
    const served: string[] = [];
    let started = 0;
    let answered = 0;
    const lane = async () => {
      while (started < total) {
        const i = started++;
        const outcome = await exchange(port, i, served);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (outcome === "answered") answered++;
      }
    };
    const load = Promise.all(Array.from({ length: lanes }, lane));
    await waitFor(() => answered >= 60, { what: "60 connections answered before the worker leaves" });
    const servedBefore = served.filter((w) => w === "leaving").length;
    assert.ok(servedBefore > 0, "the leaving worker served connections before it left");
    const exit = leaving.stop();
    await load;
    assert.equal(await exit, 0, "the leaving worker drained and exited cleanly");

    assert.deepEqual(Object.fromEntries(outcomes), { answered: total }, "every connection was answered");
    assert.equal(served.length, total);
    // The edge took it out: it is no longer listed, the other worker serves.
    await waitFor(
      async () =>
        (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.every(
          (w) => w.instance !== "leaving",
        ),
      { what: "the edge forgot the leaving worker" },
    );
  });

  it("the edge deregisters it with its close reports unread: the connections sent just before still reach it", async (t) => {
    const port = await freePort();
    const edge = await startEdge({
      routes: [{ name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    });
    const workers: TestWorker[] = [];
    t.after(async () => {
      try {
        process.kill(edge.pid, "SIGCONT");
      } catch {
        // gone
      }
      await Promise.all(workers.map((w) => w.stop()));
      await edge.stop();
    });
    const leaving = await startTestWorker(edge, { name: "leaving", pool: "svc" });
    workers.push(leaving);
    workers.push(await startTestWorker(edge, { name: "staying", pool: "svc" }));
    // Connections each worker serves and that stay open (least-connections spreads them).
    const holding = await Promise.all(Array.from({ length: 8 }, (_, i) => held(port, i)));
    const heldByLeaving = holding.filter((h) => h.worker === "leaving");
    assert.ok(heldByLeaving.length > 0, "the leaving worker holds connections");

    // While the edge is paused, in this order: new clients wait in its accept queue, the worker
    // asks to deregister, and its held connections end (their close reports wait unread in the
    // edge's handoff socket). Resumed, the edge hands the new clients out (some to the leaving
    // worker), then deregisters it and closes its channel with those reports still unread.
    process.kill(edge.pid, "SIGSTOP");
    const total = 40;
    const served: string[] = [];
    let connected = 0;
    const clients = Promise.all(
      Array.from({ length: total }, (_, i) => exchange(port, 1000 + i, served, () => connected++)),
    );
    // Connected means in the paused edge's accept queue (the kernel completes the handshake).
    await waitFor(() => connected === total, { what: "the new clients wait in the edge's accept queue" });
    leaving.process.child.kill("SIGTERM");
    await leaving.process.waitForLine((l) => l.msg === "stopping");
    await Promise.all(heldByLeaving.map((h) => h.end()));
    process.kill(edge.pid, "SIGCONT");

    const outcomes = new Map<Outcome, number>();
    for (const o of await clients) outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    const warnings = () =>
      JSON.stringify(leaving.process.lines.filter((l) => typeof l !== "string" && (l.level ?? 0) >= 40));
    assert.deepEqual(
      Object.fromEntries(outcomes),
      { answered: total },
      `every new client was answered (leaving worker's warnings: ${warnings()})`,
    );
    assert.ok(served.includes("leaving"), "the leaving worker got some of the new clients");
    assert.equal(await leaving.process.exited.then((e) => e.code), 0);
    await Promise.all(holding.filter((h) => h.worker !== "leaving").map((h) => h.end()));
  });
});
