import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it, type TestContext } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  type EdgeHarness,
  freePort,
  readChunk,
  readLine,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpConnect,
  tcpExchange,
  udpExchange,
  waitFor,
} from "@switchyard/testkit";

async function workerOf(port: number): Promise<string> {
  const { data } = await tcpExchange(port, { end: true });
  const line = data.toString().split("\n")[0] ?? "";
  return line ? (JSON.parse(line).worker as string) : "";
}

interface Setup {
  edge: EdgeHarness;
  workers: Map<string, TestWorker>;
  tcpPort: number;
  udpPort: number;
  config: Record<string, unknown>;
  /** Starts another worker in the pool (stopped with the rest). */
  add(name: string): Promise<TestWorker>;
  workerId(name: string): Promise<string>;
}

/** Each test gets its own edge and workers: none leans on what an earlier one drained or killed. */
async function setup(t: TestContext, names: string[]): Promise<Setup> {
  const tcpPort = await freePort();
  const udpPort = await freePort();
  const config = {
    // No waiting for a worker: with none ready a connection is closed at once.
    edge: { handoff: { waitForWorkerMs: 0 } },
    routes: [
      { name: "svc", match: { ports: [tcpPort] }, action: { type: "handoff", pool: "svc" } },
      {
        name: "svc-udp",
        match: { ports: [udpPort], protocol: "udp" },
        action: { type: "handoff", pool: "svc" },
      },
    ],
  };
  const edge = await startEdge(config);
  const workers = new Map<string, TestWorker>();
  t.after(async () => {
    for (const w of workers.values()) w.process.child.kill("SIGCONT");
    await Promise.all([...workers.values()].map((w) => w.stop()));
    await edge.stop();
  });
  const add = async (name: string) => {
    const w = await startTestWorker(edge, { name, pool: "svc" });
    workers.set(name, w);
    return w;
  };
  for (const name of names) await add(name);
  const workerId = async (name: string) => {
    const found = (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.find(
      (w) => w.instance === name,
    );
    assert.ok(found, `worker ${name} is listed`);
    return found.id;
  };
  return { edge, workers, tcpPort, udpPort, config, add, workerId };
}

/** A connection the edge refuses for want of a ready worker: closed at once, not one byte. */
async function assertNoWorker(port: number): Promise<void> {
  const refused = await tcpExchange(port, { timeoutMs: 5000 });
  assert.deepEqual([refused.closed, refused.data.length], [true, 0], "closed with no byte (no ready worker)");
}

describe("edge and its workers", () => {
  it("shares the bound UDP socket with both workers; datagrams never pass through the edge", async (t) => {
    const { edge, workers, udpPort } = await setup(t, ["one", "two"]);
    const one = workers.get("one") as TestWorker;
    const two = workers.get("two") as TestWorker;
    const answers = async (n: number) => {
      const names = new Set<string>();
      for (let i = 0; i < n; i++) {
        const answer = (await udpExchange(udpPort, `q${i}`)).toString();
        assert.match(answer, new RegExp(`^(one|two):q${i}$`));
        names.add(answer.split(":")[0]!);
      }
      return [...names];
    };
    // With the edge frozen, the workers still answer on its port: the edge reads none of it.
    edge.process.child.kill("SIGSTOP");
    try {
      one.process.child.kill("SIGSTOP");
      assert.deepEqual(await answers(5), ["two"]);
      one.process.child.kill("SIGCONT");
      two.process.child.kill("SIGSTOP");
      assert.deepEqual(await answers(5), ["one"]);
    } finally {
      for (const p of [edge.process, one.process, two.process]) p.child.kill("SIGCONT");
    }
  });

  it("spreads open connections across workers (least connections)", async (t) => {
    const { edge, tcpPort } = await setup(t, ["one", "two"]);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => tcpConnect(tcpPort)));
    const names = await Promise.all(sockets.map(async (s) => JSON.parse(await readLine(s)).worker as string));
    const count = (n: string) => names.filter((x) => x === n).length;
    assert.equal(count("one"), 5);
    assert.equal(count("two"), 5);
    for (const s of sockets) s.destroy();
    const listed = await unary(edge.admin, "listWorkers", { pool: "svc" });
    assert.equal(listed.workers.length, 2);
  });

  it("keeps serving when a worker is killed mid-stream: its connection ends, new ones go to the next worker", async (t) => {
    const { edge, tcpPort, workers, add } = await setup(t, ["victim"]);
    const s = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(s)).worker, "victim");
    const ended = new Promise<void>((resolve) => s.on("close", () => resolve()));
    s.on("error", () => {});
    // Keep reading: a paused socket never sees the worker's FIN as 'end', so it would never close.
    s.resume();
    s.write("half a message");
    await (workers.get("victim") as TestWorker).kill();
    await ended;
    // The victim is gone: no worker left, the client is closed.
    await waitFor(
      async () =>
        (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.every(
          (w) => w.instance !== "victim",
        ),
      { what: "victim removed" },
    );
    await assertNoWorker(tcpPort);
    // A fresh worker takes new connections.
    await add("fresh");
    assert.equal(await workerOf(tcpPort), "fresh");
  });

  it("drain: a drained worker gets no new connections but keeps its open ones", async (t) => {
    const { edge, tcpPort, workerId } = await setup(t, ["fresh"]);
    const id = await workerId("fresh");
    const open = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(open)).worker, "fresh");
    await unary(edge.admin, "drainWorker", { workerId: id, replace: false });
    const after = await unary(edge.admin, "listWorkers", { pool: "svc" });
    assert.equal(after.workers.find((w) => w.id === id)?.state, "draining");
    await assertNoWorker(tcpPort);
    open.write("still here");
    const echoed = await readChunk(open);
    assert.equal(echoed, "still here");
    open.destroy();
  });

  it("edge restart: established connections live on in the worker, workers re-register by themselves", async (t) => {
    const { edge, tcpPort, udpPort, workerId } = await setup(t, ["one", "two"]);
    await unary(edge.admin, "drainWorker", { workerId: await workerId("two"), replace: false });
    const open = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(open)).worker, "one");
    await edge.restart();
    open.write("survived");
    const echoed = await readChunk(open);
    assert.equal(echoed, "survived", "the connection outlived the edge");
    open.destroy();
    // Each worker registers (listed as "attaching") and then attaches over the handoff socket: wait
    // for the second step, or a slow attach reads as a wrong state. "unhealthy" (a heartbeat late
    // under load) passes by itself, so only "ready" and "draining" count as back.
    const names = ["one", "two"];
    const back = await waitFor(
      async () => {
        const listed = (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.filter(
          (w) => w.state === "ready" || w.state === "draining",
        );
        return names.every((n) => listed.some((w) => w.instance === n)) ? listed : undefined;
      },
      { timeout: 30_000, what: "both workers attached to the new edge" },
    );
    assert.deepEqual(
      back.filter((w) => w.state !== "ready").map((w) => `${w.instance}: ${w.state}`),
      [],
      "drain marks do not survive an edge restart",
    );
    assert.ok(names.includes(await workerOf(tcpPort)));
    const udp = (await udpExchange(udpPort, "again")).toString();
    assert.match(udp, /^(one|two):again$/);
  });

  it("reload: new routes apply to new connections, open ones are untouched, a bad config is refused", async (t) => {
    const { edge, tcpPort, config } = await setup(t, ["one"]);
    const open = await tcpConnect(tcpPort);
    await readLine(open);
    const newPort = await freePort();
    await assert.rejects(tcpConnect(newPort), /ECONNREFUSED/, "the new port is not served before the reload");
    const next = {
      routes: [
        ...(config.routes as unknown[]),
        { name: "added", match: { ports: [newPort] }, action: { type: "handoff", pool: "svc" } },
      ],
    };
    await edge.writeConfig(next);
    const ok = await unary(edge.admin, "reload", {});
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.routes, 3);
    assert.equal(await workerOf(newPort), "one");
    open.write("x");
    assert.equal(await readChunk(open), "x");

    await writeFile(
      edge.configPath,
      "routes:\n  - name: broken\n    match: { ports: [70000] }\n    action: { type: block }\n",
    );
    const refused = await unary(edge.admin, "reload", {});
    assert.match(refused.errors.join("\n"), /routes\[0\]\.match\.ports\[0\]: 70000 is not a port/);
    assert.equal(refused.routes, 3, "the old routes stay");
    assert.equal(await workerOf(newPort), "one");
    open.destroy();
  });
});

describe("a worker that stops reading its handoff socket", () => {
  let edge: EdgeHarness;
  const workers: TestWorker[] = [];
  let port: number;

  before(async () => {
    port = await freePort();
    edge = await startEdge({
      // A short queue per worker, and heartbeats slow enough that the stalled worker stays "ready".
      edge: {
        handoff: { maxQueuedPerWorker: 4 },
        workers: { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 60000 },
      },
      routes: [{ name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    });
    workers.push(await startTestWorker(edge, { name: "stalled", pool: "svc" }));
    workers.push(await startTestWorker(edge, { name: "healthy", pool: "svc" }));
  });

  after(async () => {
    for (const w of workers) w.process.child.kill("SIGCONT");
    await Promise.all(workers.map((w) => w.stop()));
    await edge?.stop();
  });

  it("sends connections past the stalled worker's full queue to the next worker, and delivers the queued ones later", async () => {
    const stalled = workers[0]!;
    stalled.process.child.kill("SIGSTOP");
    const sockets = await Promise.all(Array.from({ length: 60 }, () => tcpConnect(port)));
    const answered: Array<string | undefined> = sockets.map(() => undefined);
    const lines = sockets.map((s, i) =>
      readLine(s, 60_000).then((line) => {
        answered[i] = JSON.parse(line).worker as string;
        return answered[i] as string;
      }),
    );
    // Wait for a state, not a read timeout: the edge has placed all 60 (a connection counts against
    // a worker from the moment it is queued for it), and every one placed with the healthy worker
    // has answered. What is left unanswered then sits in the stalled worker's socket and queue.
    const placed = await waitFor(
      async () => {
        const listed = (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers;
        const active = (n: string) => Number(listed.find((w) => w.instance === n)?.activeConnections ?? 0);
        const healthyAnswered = answered.filter((w) => w === "healthy").length;
        return active("stalled") + active("healthy") === 60 && healthyAnswered === active("healthy")
          ? { stalled: active("stalled"), healthy: active("healthy") }
          : null;
      },
      { timeout: 30_000, what: "all 60 connections placed, and the healthy worker's answered" },
    );
    assert.equal(answered.filter((w) => w === "stalled").length, 0, "a stopped worker answers nothing");
    assert.ok(placed.healthy >= 30, `the healthy worker took the overflow (${placed.healthy})`);
    assert.ok(placed.stalled > 0, "some connections sat in the stalled worker's socket and queue");
    stalled.process.child.kill("SIGCONT");
    const late = await Promise.all(lines);
    assert.equal(
      late.filter((w) => w === "stalled").length,
      placed.stalled,
      "every queued connection arrived",
    );
    assert.equal(late.filter((w) => w === "healthy").length, placed.healthy);
    for (const s of sockets) s.destroy();
  });
});
