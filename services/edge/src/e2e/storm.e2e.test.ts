import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  closedPort,
  type EdgeHarness,
  freePort,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpStorm,
  waitFor,
} from "@switchyard/testkit";

describe("connection storms leave nothing behind", () => {
  let edge: EdgeHarness;
  let worker: TestWorker;
  const ports: Record<string, number> = {};

  before(async () => {
    for (const k of ["handoff", "sni", "forwardDead", "noWorker"]) ports[k] = await freePort();
    edge = await startEdge({
      // The pool with no worker makes its connections wait, briefly, then closes them: the storm
      // goes through the waiting room and its timers too.
      edge: { handoff: { waitForWorkerMs: 200 } },
      routes: [
        { name: "handoff", match: { ports: [ports.handoff] }, action: { type: "handoff", pool: "p" } },
        {
          name: "sni",
          match: { ports: [ports.sni], domains: ["x.test"] },
          action: { type: "handoff", pool: "p" },
        },
        {
          name: "dead",
          match: { ports: [ports.forwardDead] },
          action: { type: "forward", host: "127.0.0.1", port: await closedPort() },
        },
        { name: "none", match: { ports: [ports.noWorker] }, action: { type: "handoff", pool: "nobody" } },
      ],
    });
    worker = await startTestWorker(edge, { name: "w", pool: "p" });
  });

  after(async () => {
    await worker?.stop();
    await edge?.stop();
  });

  it("returns to its baseline of fds and records after 5,000 connect/close and early disconnects", async () => {
    // Warm up so lazily opened fds (epoll, timers) are in the baseline.
    await tcpStorm(ports.handoff!, 50, 10, "exchange");
    const baseline = await waitFor("quiet edge", async () => {
      const s = await unary(edge.admin, "getStats", {});
      return s.handoffRecords === 0 && s.admissionEntries === 0 ? s : null;
    });

    await tcpStorm(ports.handoff!, 5000, 50, "close");
    await tcpStorm(ports.handoff!, 500, 50, "exchange");
    await tcpStorm(ports.sni!, 500, 50, "reset");
    await tcpStorm(ports.sni!, 500, 50, "close");
    await tcpStorm(ports.forwardDead!, 500, 50, "close");
    await tcpStorm(ports.noWorker!, 500, 50, "close");

    const settled = await waitFor(
      "records back to zero",
      async () => {
        const s = await unary(edge.admin, "getStats", {});
        const idle =
          s.handoffRecords === 0 &&
          s.connectionsPending === 0 &&
          s.forwarded === 0 &&
          s.admissionEntries === 0;
        return idle && s.openFds <= baseline.openFds ? s : null;
      },
      20_000,
    );
    assert.equal(settled.handoffRecords, 0);
    assert.ok(settled.openFds <= baseline.openFds, `fds ${settled.openFds} vs baseline ${baseline.openFds}`);
    const handoff = settled.routes.find((r) => r.route === "handoff");
    assert.ok(handoff && handoff.total >= 5550 && handoff.active === 0, JSON.stringify(handoff));
    const workers = await unary(edge.admin, "listWorkers", { pool: "" });
    assert.equal(workers.workers[0]?.activeConnections, 0);
  });

  it("counts every close when thousands of held connections end in the same turn", async () => {
    // More closes than fit one report message: the worker must split its reports, not drop them.
    // Opened in waves of 250: a burst of 2,500 at once can overrun one worker's bounded handoff
    // queue, and the overflow is refused by design. The closes below still all happen at once.
    const held: Socket[] = [];
    for (let wave = 0; wave < 10; wave++) {
      held.push(
        ...(await Promise.all(
          Array.from(
            { length: 250 },
            () =>
              new Promise<Socket>((resolve, reject) => {
                const s = connect({ host: "127.0.0.1", port: ports.handoff! });
                s.once("data", () => resolve(s));
                s.once("error", reject);
                s.once("close", () => reject(new Error("closed before the worker answered")));
              }),
          ),
        )),
      );
    }
    const during = await unary(edge.admin, "getStats", {});
    assert.ok(during.handoffRecords >= 2500, `records while held: ${during.handoffRecords}`);
    for (const s of held) s.destroy();
    const settled = await waitFor(
      "every close reported",
      async () => {
        const st = await unary(edge.admin, "getStats", {});
        return st.handoffRecords === 0 && st.admissionEntries === 0 ? st : null;
      },
      20_000,
    );
    assert.equal(settled.routes.find((r) => r.route === "handoff")?.active, 0);
  });
});
