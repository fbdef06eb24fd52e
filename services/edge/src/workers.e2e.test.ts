import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
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

describe("edge and its workers", () => {
  let edge: EdgeHarness;
  const workers: TestWorker[] = [];
  let tcpPort: number;
  let udpPort: number;
  let config: Record<string, unknown>;

  before(async () => {
    tcpPort = await freePort();
    udpPort = await freePort();
    config = {
      routes: [
        { name: "svc", match: { ports: [tcpPort] }, action: { type: "handoff", pool: "svc" } },
        {
          name: "svc-udp",
          match: { ports: [udpPort], protocol: "udp" },
          action: { type: "handoff", pool: "svc" },
        },
      ],
    };
    edge = await startEdge(config);
    workers.push(await startTestWorker(edge, { name: "one", pool: "svc" }));
    workers.push(await startTestWorker(edge, { name: "two", pool: "svc" }));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await edge?.stop();
  });

  it("shares the bound UDP socket with both workers; datagrams never pass through the edge", async () => {
    const [one, two] = workers as [TestWorker, TestWorker];
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

  it("spreads open connections across workers (least connections)", async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => tcpConnect(tcpPort)));
    const names = await Promise.all(sockets.map(async (s) => JSON.parse(await readLine(s)).worker as string));
    const count = (n: string) => names.filter((x) => x === n).length;
    assert.equal(count("one"), 5);
    assert.equal(count("two"), 5);
    for (const s of sockets) s.destroy();
    const listed = await unary(edge.admin, "listWorkers", { pool: "svc" });
    assert.equal(listed.workers.length, 2);
  });

  it("keeps serving when a worker is killed mid-stream: its connection ends, new ones go to the survivor", async () => {
    const victim = await startTestWorker(edge, { name: "victim", pool: "svc" });
    await unary(edge.admin, "drainWorker", {
      workerId: (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.find(
        (w) => w.instance === "one",
      )!.id,
    });
    await unary(edge.admin, "drainWorker", {
      workerId: (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.find(
        (w) => w.instance === "two",
      )!.id,
    });
    const s = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(s)).worker, "victim");
    const ended = new Promise<void>((resolve) => s.on("close", () => resolve()));
    s.on("error", () => {});
    // Keep reading: a paused socket never sees the worker's FIN as 'end', so it would never close.
    s.resume();
    s.write("half a message");
    await victim.kill();
    await ended;
    // Drained workers take nothing, and the victim is gone: no worker left, the client is closed.
    await waitFor("victim removed", async () =>
      (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.every((w) => w.instance !== "victim"),
    );
    const refused = await tcpExchange(tcpPort, {});
    assert.equal(refused.data.length, 0);
    // A fresh worker takes new connections.
    const fresh = await startTestWorker(edge, { name: "fresh", pool: "svc" });
    workers.push(fresh);
    assert.equal(await workerOf(tcpPort), "fresh");
  });

  it("drain: a drained worker gets no new connections but keeps its open ones", async () => {
    const listed = await unary(edge.admin, "listWorkers", { pool: "svc" });
    const fresh = listed.workers.find((w) => w.instance === "fresh")!;
    const open = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(open)).worker, "fresh");
    await unary(edge.admin, "drainWorker", { workerId: fresh.id });
    const after = await unary(edge.admin, "listWorkers", { pool: "svc" });
    assert.equal(after.workers.find((w) => w.id === fresh.id)?.state, "draining");
    const refused = await tcpExchange(tcpPort, {});
    assert.equal(refused.data.length, 0, "no ready worker is left");
    open.write("still here");
    const echoed = await readChunk(open);
    assert.equal(echoed, "still here");
    open.destroy();
  });

  it("edge restart: established connections live on in the worker, workers re-register by themselves", async () => {
    const extra = await startTestWorker(edge, { name: "after-restart", pool: "svc" });
    workers.push(extra);
    const open = await tcpConnect(tcpPort);
    assert.equal(JSON.parse(await readLine(open)).worker, "after-restart");
    await edge.restart();
    open.write("survived");
    const echoed = await readChunk(open);
    assert.equal(echoed, "survived", "the connection outlived the edge");
    open.destroy();
    // Each worker registers (listed as "attaching") and then attaches over the handoff socket: wait
    // for the second step, or a slow attach reads as a wrong state. "unhealthy" (a heartbeat late
    // under load) passes by itself, so only "ready" and "draining" count as back.
    const names = ["one", "two", "fresh", "after-restart"];
    const back = await waitFor(
      "the four workers attached to the new edge",
      async () => {
        const listed = (await unary(edge.admin, "listWorkers", { pool: "svc" })).workers.filter(
          (w) => w.state === "ready" || w.state === "draining",
        );
        return names.every((n) => listed.some((w) => w.instance === n)) ? listed : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      back.filter((w) => w.state !== "ready").map((w) => `${w.instance}: ${w.state}`),
      [],
      "drain marks do not survive an edge restart",
    );
    assert.ok(names.includes(await workerOf(tcpPort)));
    const udp = (await udpExchange(udpPort, "again")).toString();
    assert.match(udp, /:again$/);
  });

  it("reload: new routes apply to new connections, open ones are untouched, a bad config is refused", async () => {
    const open = await tcpConnect(tcpPort);
    await readLine(open);
    const newPort = await freePort();
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
    assert.ok(await workerOf(newPort));
    open.write("x");
    assert.equal(await readChunk(open), "x");

    await writeFile(
      edge.configPath,
      "routes:\n  - name: broken\n    match: { ports: [70000] }\n    action: { type: block }\n",
    );
    const refused = await unary(edge.admin, "reload", {});
    assert.match(refused.errors.join("\n"), /routes\[0\]\.match\.ports\[0\]: 70000 is not a port/);
    assert.equal(refused.routes, 3, "the old routes stay");
    assert.ok(await workerOf(newPort));
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
    const answered = await Promise.all(
      sockets.map((s) =>
        readLine(s, 1500).then(
          (line) => JSON.parse(line).worker as string,
          () => "waiting",
        ),
      ),
    );
    const healthy = answered.filter((w) => w === "healthy").length;
    const waiting = answered.filter((w) => w === "waiting").length;
    assert.ok(healthy >= 30, `the healthy worker took the overflow (${healthy})`);
    assert.ok(waiting > 0, "some connections sat in the stalled worker's socket and queue");
    assert.equal(healthy + waiting, 60);
    stalled.process.child.kill("SIGCONT");
    const late = await Promise.all(
      sockets.map((s, i) =>
        answered[i] === "waiting" ? readLine(s).then((line) => JSON.parse(line).worker as string) : "healthy",
      ),
    );
    assert.equal(late.filter((w) => w === "stalled").length, waiting, "every queued connection arrived");
    for (const s of sockets) s.destroy();
  });
});
