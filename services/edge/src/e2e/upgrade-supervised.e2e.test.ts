import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import { freePort, startEdge, tcpExchange, waitFor } from "@switchyard/testkit";
import { superviseEdge } from "../testing/supervised-edge.js";

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

describe("npm start's supervisor and an edge upgrade", () => {
  it("follows the new edge: no restart, no second edge, and stops the successor on SIGTERM", async (t) => {
    const port = await freePort();
    const edge = await startEdge({
      // No waiting for a worker: the new edge's port accepts and closes at once.
      edge: { handoff: { waitForWorkerMs: 0 } },
      routes: [{ name: "plain", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    });
    const pidFile = join(edge.dir, "edge.pid");
    const supervisor = await superviseEdge(t, edge);
    const first = await supervisor.waitForLine((l) => l.msg === "edge started");
    const firstPid = Number(first.pid);
    await waitFor(async () => Number(await readFile(pidFile, "utf8").catch(() => "0")) === firstPid, {
      what: "pid file of the first edge",
    });
    const { newPid } = await unary(edge.admin, "upgrade", {}, { deadlineMs: 30_000 });
    await supervisor.waitForLine((l) => l.msg === "edge upgrade: accepting" && l.pid === newPid, 30_000);
    await waitFor(async () => !(await alive(firstPid)), { what: "the old edge exits" });
    const said = await waitFor(
      () =>
        supervisor.lines.find(
          (l) => typeof l === "string" && l.includes(`handed over from pid ${firstPid} to pid ${newPid}`),
        ),
      { what: "the supervisor follows the new pid" },
    );
    assert.ok(said);
    // The new edge serves: no worker in the pool yet, so the port accepts and closes (not refused).
    const refusedNot = await tcpExchange(port, { timeoutMs: 5000 });
    assert.equal(refusedNot.error, undefined);
    assert.equal(refusedNot.closed, true);
    assert.equal(
      supervisor.lines.filter((l) => typeof l === "string" && l.includes("restarting")).length,
      0,
      "no restart",
    );
    const started = supervisor.lines.flatMap((l) =>
      typeof l !== "string" && l.msg === "edge started" ? [l.pid] : [],
    );
    assert.deepEqual(
      [...new Set(started)],
      [firstPid, newPid],
      "the first edge and its successor, nothing else",
    );
    assert.equal(await supervisor.stop(), 0);
    assert.equal(await alive(newPid), false, "the supervisor stopped the successor");
  });
});
