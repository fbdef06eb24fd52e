/**
 * Every way a connection can end, each followed by a check that everything the edge holds per
 * connection is back where it was: the EdgeAdmin counts (pending, handed-off records,
 * per-address admission entries, per-route and per-worker active), every switchyard gauge on
 * /metrics, and the fds in /proc/<edge pid>/fd. Each test first checks the connection did take the
 * resource (so "back to baseline" is not vacuous), then ends it one way, then waits for the baseline.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  captureClientHello,
  type EdgeHarness,
  freePort,
  readLine,
  type StreamReplica,
  scrapeMetrics,
  startEdge,
  startStreamReplica,
  startTestWorker,
  type TestWorker,
  waitFor,
} from "@switchyard/testkit";

type Resources = Record<string, number>;

/** One reading of everything per-connection the edge holds. */
async function resources(edge: EdgeHarness): Promise<Resources> {
  const out: Resources = { fds: (await readdir(`/proc/${edge.process.pid}/fd`)).length };
  const stats = await unary(edge.admin, "getStats", {});
  out.pending = Number(stats.connectionsPending);
  out.handoffRecords = Number(stats.handoffRecords);
  out.admissionEntries = Number(stats.admissionEntries);
  out.workersActive = stats.workers.reduce((n, w) => n + Number(w.active), 0);
  for (const r of stats.routes) out[`route ${r.route} active`] = Number(r.active);
  const { samples, types } = await scrapeMetrics(edge.metricsPort);
  for (const s of samples) {
    if (!s.name.startsWith("switchyard_") || types.get(s.name) !== "gauge") continue;
    out[`${s.name}${JSON.stringify(s.labels)}`] = s.value;
  }
  return out;
}

/** A key present on one side only reads as 0 on the other (a route's first connection adds its row). */
function sameAs(now: Resources, base: Resources): boolean {
  for (const k of new Set([...Object.keys(now), ...Object.keys(base)]))
    if ((now[k] ?? 0) !== (base[k] ?? 0)) return false;
  return true;
}

function diff(now: Resources, base: Resources): string {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(now), ...Object.keys(base)]))
    if ((now[k] ?? 0) !== (base[k] ?? 0)) out.push(`${k}: ${base[k] ?? 0} → ${now[k] ?? 0}`);
  return out.join("; ");
}

/** The baseline: two readings in a row that agree (a scrape's own socket may still be closing). */
async function baseline(edge: EdgeHarness): Promise<Resources> {
  let last = await resources(edge);
  return waitFor(
    async () => {
      const now = await resources(edge);
      const stable = sameAs(now, last);
      last = now;
      return stable ? now : null;
    },
    { timeout: 10_000, what: "a stable baseline" },
  );
}

async function backTo(edge: EdgeHarness, base: Resources, after: string): Promise<void> {
  let now: Resources = base;
  try {
    await waitFor(
      async () => {
        now = await resources(edge);
        return sameAs(now, base);
      },
      { timeout: 10_000, what: `the edge's resources back to baseline after ${after}` },
    );
  } catch {
    assert.fail(`after ${after}, not back to baseline: ${diff(now, base)}`);
  }
}

/** Waits until the reading shows `key` at `value` (the connection holds the resource). */
async function holds(edge: EdgeHarness, key: string, value: number): Promise<void> {
  await waitFor(async () => ((await resources(edge))[key] ?? 0) === value, {
    timeout: 10_000,
    what: `${key} = ${value}`,
  });
}

function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Resolves when the socket closes (errors such as ECONNRESET are part of the ending, not failures). */
function closed(s: Socket): Promise<void> {
  s.on("error", () => {});
  s.resume();
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    else s.once("close", () => resolve());
  });
}

describe("edge: every ending gives back every resource", () => {
  let edge: EdgeHarness;
  let worker: TestWorker;
  let stream: StreamReplica;
  let backend: Server;
  const backendSockets = new Set<Socket>();
  const ports: Record<string, number> = {};

  before(async () => {
    for (const k of ["handoff", "sni", "proxied", "forward", "victim"]) ports[k] = await freePort();
    backend = createServer((s) => {
      backendSockets.add(s);
      s.on("close", () => backendSockets.delete(s));
      s.on("error", () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
    edge = await startEdge({
      edge: {
        proxyProtocol: { trusted: ["127.0.0.9/32"] },
        limits: { routingTimeoutMs: 1000 },
      },
      routes: [
        {
          name: "handoff",
          match: { ports: [ports.handoff] },
          action: { type: "handoff", pool: "p" },
          security: { maxConnectionsPerIp: 5 },
        },
        {
          name: "sni",
          match: { ports: [ports.sni], domains: ["a.test"] },
          action: { type: "handoff", pool: "p" },
        },
        { name: "proxied", match: { ports: [ports.proxied] }, action: { type: "handoff", pool: "p" } },
        {
          name: "forward",
          match: { ports: [ports.forward] },
          action: { type: "forward", host: "127.0.0.1", port: (backend.address() as { port: number }).port },
          security: { maxConnectionsPerIp: 5 },
        },
        { name: "victim", match: { ports: [ports.victim] }, action: { type: "handoff", pool: "v" } },
      ],
    });
    worker = await startTestWorker(edge, { name: "w", pool: "p" });
    stream = await startStreamReplica(edge, { name: "stream-1" });
  });

  after(async () => {
    await worker?.stop();
    await stream?.stop();
    await edge?.stop();
    await new Promise((r) => backend?.close(r));
  });

  it("a client reset after the handoff", async () => {
    const base = await baseline(edge);
    const s = await connectFrom("127.0.0.21", ports.handoff!);
    assert.equal(JSON.parse(await readLine(s)).worker, "w");
    await holds(edge, "handoffRecords", base.handoffRecords! + 1);
    await holds(edge, "route handoff active", 1);
    s.resetAndDestroy();
    await backTo(edge, base, "a client reset after the handoff");
  });

  it("a client reset after an SNI-routed handoff (read, then handed over)", async () => {
    const base = await baseline(edge);
    const s = await connectFrom("127.0.0.27", ports.sni!);
    s.write(await captureClientHello("a.test"));
    const header = JSON.parse(await readLine(s));
    assert.deepEqual([header.worker, header.sni], ["w", "a.test"]);
    await holds(edge, "route sni active", 1);
    s.resetAndDestroy();
    await backTo(edge, base, "a client reset after an SNI-routed handoff");
  });

  it("the routing timeout (a client that sends nothing to a port that reads)", async () => {
    const base = await baseline(edge);
    const s = await connectFrom("127.0.0.22", ports.sni!);
    const ended = closed(s);
    await holds(edge, "pending", base.pending! + 1);
    await ended;
    await backTo(edge, base, "the routing timeout");
  });

  it("a trusted peer that stalls inside its PROXY header", async () => {
    const base = await baseline(edge);
    const s = await connectFrom("127.0.0.9", ports.proxied!);
    s.write("PROXY TCP4 192.0.2.1 ");
    const ended = closed(s);
    await holds(edge, "pending", base.pending! + 1);
    await ended;
    await backTo(edge, base, "a stalled PROXY header");
  });

  it("a worker killed mid-stream", async () => {
    const base = await baseline(edge);
    const victim = await startTestWorker(edge, { name: "victim", pool: "v" });
    const s = await connectFrom("127.0.0.23", ports.victim!);
    assert.equal(JSON.parse(await readLine(s)).worker, "victim");
    await holds(edge, "route victim active", 1);
    const ended = closed(s);
    s.write("half a message");
    await victim.kill();
    await ended;
    // The worker's own registration, channel and fds go too: the baseline is from before it started.
    await backTo(edge, base, "a worker killed mid-stream");
  });

  it("connections refused by the per-address limit, then the admitted ones closed", async () => {
    const base = await baseline(edge);
    const admitted = await Promise.all(
      Array.from({ length: 5 }, () => connectFrom("127.0.0.26", ports.handoff!)),
    );
    for (const s of admitted) assert.equal(JSON.parse(await readLine(s)).worker, "w");
    await holds(edge, "route handoff active", 5);
    for (let i = 0; i < 3; i++) {
      const refused = await connectFrom("127.0.0.26", ports.handoff!);
      await closed(refused);
      assert.equal(refused.bytesRead, 0, "over the limit: closed without a byte");
    }
    const ends = admitted.map(closed);
    for (const s of admitted) s.destroy();
    await Promise.all(ends);
    await backTo(edge, base, "refusals at the per-address limit");
  });

  for (const how of ["the client half-closes", "the client resets", "the backend hangs up"] as const) {
    it(`a live forward ending: ${how}`, async () => {
      const base = await baseline(edge);
      const s = await connectFrom("127.0.0.24", ports.forward!);
      s.write("ping\n");
      assert.equal(await readLine(s), "ping");
      // The edge holds a handoff record, as for any connection: the stream worker carries the bytes.
      await holds(edge, "handoffRecords", base.handoffRecords! + 1);
      await holds(edge, "route forward active", 1);
      const ended = closed(s);
      if (how === "the client half-closes") s.end();
      else if (how === "the client resets") s.resetAndDestroy();
      else for (const b of backendSockets) b.destroy();
      await ended;
      await backTo(edge, base, `a forward where ${how}`);
    });
  }
});

describe("edge: SIGTERM drains, then exits without waiting out the deadline", () => {
  it("refuses new connections and exits 0 at once: a live forward is the stream worker's, and goes on", async () => {
    const backend = createServer((s) => {
      s.on("error", () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
    const port = await freePort();
    // A drain deadline far beyond the test's own wait: the edge has no forward of its own to wait for.
    const edge = await startEdge(
      {
        routes: [
          {
            name: "forward",
            match: { ports: [port] },
            action: {
              type: "forward",
              host: "127.0.0.1",
              port: (backend.address() as { port: number }).port,
            },
          },
        ],
      },
      { env: { SWITCHYARD_DRAIN_TIMEOUT_MS: "120000" } },
    );
    const stream = await startStreamReplica(edge, { name: "stream-drain" });
    try {
      const s = await connectFrom("127.0.0.25", port);
      s.write("one\n");
      assert.equal(await readLine(s), "one");
      edge.process.child.kill("SIGTERM");
      await edge.process.waitForLine((l) => l.msg === "stopping");
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const probe = connect({ host: "127.0.0.1", port });
            probe.once("connect", () => {
              probe.destroy();
              resolve(false);
            });
            probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
          }),
        { what: "the listener closed by the drain" },
      );
      const exit = await Promise.race([
        edge.process.exited,
        new Promise<"still running">((r) => setTimeout(() => r("still running"), 30_000).unref()),
      ]);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.equal(
        edge.process.lines.some((l) => typeof l === "object" && l.msg === "drain timed out: stopping anyway"),
        false,
      );
      s.write("two\n");
      assert.equal(await readLine(s), "two", "the forward still carries bytes with the edge gone");
      const ended = closed(s);
      s.end();
      await ended;
    } finally {
      await stream.stop();
      await edge.stop();
      await new Promise((r) => backend.close(r));
    }
  });
});
