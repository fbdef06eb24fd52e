/**
 * UDP forward sessions across a reload and a drain, on both UDP paths (`stream.udp: batch`, the
 * default, and `dgram`): a reload that drops a route ends its sessions ("reload") and gives their
 * sockets back while the other route's sessions carry on; a drain ends every session and the
 * worker exits cleanly.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { describe, it } from "node:test";
import {
  type EdgeHarness,
  fdCensus,
  freePort,
  type StreamReplica,
  scrapeMetric,
  startEdge,
  startStreamReplica,
  waitFor,
} from "@switchyard/testkit";

interface Client {
  socket: dgram.Socket;
  answers: string[];
}

async function client(): Promise<Client> {
  const socket = dgram.createSocket("udp4");
  const c: Client = { socket, answers: [] };
  socket.on("message", (msg) => c.answers.push(msg.toString()));
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  return c;
}

/** An echo, an edge with a udp forward route per name, and one stream worker on the given UDP path. */
async function startStack(udp: "batch" | "dgram", names: string[]) {
  const echo = dgram.createSocket("udp4");
  // The answer names the upstream port: the same session answers with the same one.
  echo.on("message", (m, r) => echo.send(`${r.port}:${m}`, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, "127.0.0.1", () => r()));
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = await freePort();
  const config = (routes: string[]) => ({
    stream: { udp },
    routes: routes.map((name) => ({
      name,
      match: { ports: [ports[name]], protocol: "udp" },
      action: { type: "forward", host: "127.0.0.1", port: echo.address().port },
    })),
  });
  const clients: Client[] = [];
  let edge: EdgeHarness | undefined;
  let stream: StreamReplica | undefined;
  const stop = async () => {
    for (const c of clients) c.socket.close();
    await stream?.stop();
    await edge?.stop();
    echo.close();
  };
  try {
    edge = await startEdge(config(names));
    stream = await startStreamReplica(edge, { name: `stream-${udp}` });
    await stream.process.waitForLine((l) => l.msg === "serving udp" && l.mode === udp);
  } catch (err) {
    await stop();
    throw err;
  }
  const s = stream;
  return {
    edge,
    stream: s,
    ports,
    config,
    stop,
    metric: (name: string, labels: Record<string, string>) =>
      scrapeMetric(s.metricsPort, `switchyard_stream_${name}`, labels),
    fds: async () => (await fdCensus(s.process.pid, [s.metricsPort])).total,
    clients: async (n: number) => {
      const made = await Promise.all(Array.from({ length: n }, client));
      clients.push(...made);
      return made;
    },
  };
}

/** Sends `text` from each client to `port` and waits for every answer: [upstream port, text] each. */
async function ask(cs: Client[], port: number, text: string): Promise<string[][]> {
  const before = cs.map((c) => c.answers.length);
  for (const c of cs) c.socket.send(text, port, "127.0.0.1");
  await waitFor(() => cs.every((c, i) => c.answers.length === before[i]! + 1), {
    what: `answers to ${text}`,
  });
  return cs.map((c) => c.answers.at(-1)!.split(":"));
}

for (const udp of ["batch", "dgram"] as const) {
  describe(`udp forward sessions across reload and drain (stream.udp: ${udp})`, () => {
    it("a reload that drops a route ends its sessions and frees their sockets; the other route's go on", async (t) => {
      const s = await startStack(udp, ["keep", "drop"]);
      t.after(s.stop);
      const base = await s.fds();
      const keep = await s.clients(5);
      const drop = await s.clients(5);
      const first = await ask(keep, s.ports.keep!, "one");
      await ask(drop, s.ports.drop!, "one");
      assert.equal(await s.metric("udp_sessions_active", { route: "drop" }), 5);
      assert.equal(await s.fds(), base + 10, "one upstream socket per session");

      await s.edge.writeConfig(s.config(["keep"]));
      s.stream.process.child.kill("SIGHUP");
      s.edge.process.child.kill("SIGHUP");
      await waitFor(
        async () => (await s.metric("udp_sessions_total", { route: "drop", end: "reload" })) === 5,
        { what: "the dropped route's five sessions to end as reload" },
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "drop" }), 0);
      // Its five upstream sockets and its shared socket are gone; the kept route's five are there.
      await waitFor(async () => (await s.fds()) === base + 5 - 1, {
        what: "the dropped route's fds released",
      });
      const again = await ask(keep, s.ports.keep!, "two");
      assert.deepEqual(
        again,
        first.map(([port]) => [port, "two"]),
        "the kept route's sessions carry on (same upstream sockets)",
      );
      assert.equal(await s.metric("udp_sessions_active", { route: "keep" }), 5);
    });

    it("a drain ends every session and the worker exits cleanly", async (t) => {
      const s = await startStack(udp, ["keep"]);
      t.after(s.stop);
      await ask(await s.clients(5), s.ports.keep!, "one");
      assert.equal(await s.metric("udp_sessions_active", { route: "keep" }), 5);
      const line = s.stream.process.waitForLine((l) => l.msg === "forward connections drained", 15_000);
      assert.equal(await s.stream.process.stop(15_000), 0);
      assert.equal((await line).udpSessions, 5);
    });
  });
}
