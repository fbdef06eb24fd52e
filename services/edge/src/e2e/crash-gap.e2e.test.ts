import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { freePort, startEdge, startTestWorker, waitFor } from "@switchyard/testkit";
import { type LoadTally, startSteadyLoad } from "../testing/steady-load.js";
import { superviseEdge } from "../testing/supervised-edge.js";

/**
 * kill -9 of the edge under scripts/supervise.mjs, under a fixed load (TCP every 10 ms, UDP every
 * 10 ms): what the crash costs with the supervisor's fd store and without it.
 */
async function crashUnderLoad(t: TestContext, fdStore: boolean): Promise<{ tcp: LoadTally; udp: LoadTally }> {
  const port = await freePort();
  const udpPort = await freePort();
  const edge = await startEdge({
    routes: [
      { name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } },
      {
        name: "svc-udp",
        match: { ports: [udpPort], protocol: "udp" },
        action: { type: "handoff", pool: "svc" },
      },
    ],
  });
  const supervisor = await superviseEdge(t, edge, { SWITCHYARD_SUPERVISOR_FDSTORE: fdStore ? "1" : "0" });
  await supervisor.waitForLine((l) => l.msg === "edge started");
  const worker = await startTestWorker(edge, { name: "one", pool: "svc" });
  t.after(() => worker.stop());
  if (fdStore)
    await supervisor.waitForLine((l) => l.msg === "listening sockets given to the supervisor's fd store");
  const pid = Number((await readFile(join(edge.dir, "edge.pid"), "utf8")).trim());
  const load = startSteadyLoad({
    tcp: [{ name: "svc", port, payload: () => Buffer.from("EHLO crash.test\r\n") }],
    udpPort,
    intervalMs: 10,
    deadlineMs: 15_000,
  });
  const svc = load.tcp.get("svc") as LoadTally;
  await waitFor(() => svc.answered >= 50, { what: "load answered before the crash" });
  process.kill(pid, "SIGKILL");
  await supervisor.waitForLine((l) => l.msg === "edge started" && l.pid !== pid, 30_000);
  await worker.process.waitForLine(
    (l) => l.msg === "attached to the edge" && worker.process.lines.indexOf(l) > 5,
    30_000,
  );
  const after = svc.answered;
  await waitFor(() => svc.answered >= after + 100, {
    timeout: 30_000,
    what: "load answered after the restart",
  });
  const { tcp, udp } = await load.stop();
  return { tcp: tcp.get("svc") as LoadTally, udp };
}

const summary = (t: LoadTally) => ({
  sent: t.sent,
  answered: t.answered,
  refused: t.refused,
  reset: t.reset,
  unanswered: t.unanswered,
});

describe("kill -9 of the edge under a supervisor", () => {
  it("with the fd store: nothing refused or lost (connections wait in the backlog); without: refused", async (t) => {
    const withStore = await crashUnderLoad(t, true);
    const without = await crashUnderLoad(t, false);
    t.diagnostic(
      `with fd store: tcp ${JSON.stringify(summary(withStore.tcp))} udp ${JSON.stringify(summary(withStore.udp))}`,
    );
    t.diagnostic(
      `without: tcp ${JSON.stringify(summary(without.tcp))} udp ${JSON.stringify(summary(without.udp))}`,
    );
    assert.deepEqual(
      [withStore.tcp.refused, withStore.tcp.reset, withStore.tcp.unanswered, withStore.udp.unanswered],
      [0, 0, 0, 0],
      withStore.tcp.errors.slice(0, 5).join("; "),
    );
    // The twin: without the store the ports stop listening while no edge runs.
    assert.ok(without.tcp.refused > 0, "refused without the fd store");
    assert.equal(without.udp.unanswered, 0, "UDP is answered by the workers either way");
  });
});
