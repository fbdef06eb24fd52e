import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  captureClientHello,
  closedPort,
  type EdgeHarness,
  freePort,
  type StreamReplica,
  startEdge,
  startStreamReplica,
  startTestWorker,
  type TestWorker,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";

function firstLine(data: Buffer): Record<string, unknown> {
  const text = data.toString("latin1");
  const i = text.indexOf("\n");
  assert.ok(i > 0, `expected a header line from a worker, got ${JSON.stringify(text.slice(0, 200))}`);
  return JSON.parse(text.slice(0, i)) as Record<string, unknown>;
}

describe("edge routing through real processes", () => {
  let edge: EdgeHarness;
  const workers: TestWorker[] = [];
  let stream: StreamReplica;
  let backend: Server;
  const ports: Record<string, number> = {};

  before(async () => {
    for (const k of [
      "plain",
      "tls",
      "http",
      "forward",
      "deadForward",
      "blocked",
      "smtp",
      "web",
      "nothing",
      "byIp",
      "kernel",
    ]) {
      ports[k] = await freePort();
    }
    const deadPort = await closedPort();
    backend = createServer((s) => {
      s.write("backend says hi\n");
      s.pipe(s);
    });
    await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
    const backendPort = (backend.address() as { port: number }).port;
    edge = await startEdge({
      // No waiting for a worker: the refusals below come at once.
      edge: { addresses: ["127.0.0.1", "::1"], handoff: { waitForWorkerMs: 0 } },
      firewall: {},
      routes: [
        {
          name: "kernel",
          engine: "nftables",
          match: { ports: [ports.kernel] },
          action: { type: "forward", host: "192.0.2.10", port: 80 },
        },
        {
          name: "from-2",
          match: { ports: [ports.byIp], clientIps: ["127.0.0.2/32"] },
          action: { type: "handoff", pool: "a" },
        },
        { name: "from-others", match: { ports: [ports.byIp] }, action: { type: "handoff", pool: "b" } },
        { name: "by-port", match: { ports: [ports.plain] }, action: { type: "handoff", pool: "plain" } },
        {
          name: "sni-a",
          match: { ports: [ports.tls], domains: ["a.example.test"] },
          action: { type: "handoff", pool: "a" },
        },
        {
          name: "sni-glob",
          match: { ports: [ports.tls], domains: ["*.b.example.test"] },
          action: { type: "handoff", pool: "b" },
        },
        {
          name: "acme",
          match: { ports: [ports.http], paths: ["/.well-known/acme-challenge/*"] },
          action: { type: "handoff", pool: "a" },
        },
        {
          name: "host-b",
          match: { ports: [ports.http], domains: ["www.b.example.test"] },
          action: { type: "handoff", pool: "b" },
        },
        {
          name: "fwd",
          match: { ports: [ports.forward] },
          // halfOpen: the client's FIN is passed on, so the echo after it still arrives.
          action: { type: "forward", host: "127.0.0.1", port: backendPort, halfOpen: true },
        },
        {
          name: "fwd-dead",
          match: { ports: [ports.deadForward] },
          action: { type: "forward", host: "127.0.0.1", port: deadPort },
        },
        { name: "blocked", match: { ports: [ports.blocked] }, action: { type: "block" } },
        {
          name: "smtp",
          match: { ports: [ports.smtp] },
          action: { type: "handoff", pool: "empty" },
          refusal: "smtp",
        },
        {
          name: "web",
          match: { ports: [ports.web] },
          action: { type: "handoff", pool: "empty" },
          refusal: "http",
        },
        { name: "nothing", match: { ports: [ports.nothing] }, action: { type: "handoff", pool: "empty" } },
      ],
    });
    workers.push(await startTestWorker(edge, { name: "plain-1", pool: "plain", mode: "hash" }));
    workers.push(await startTestWorker(edge, { name: "a-1", pool: "a", mode: "hash" }));
    workers.push(await startTestWorker(edge, { name: "b-1", pool: "b", mode: "hash" }));
    // Forward routes are handed off to the stream pool: a real stream worker relays them.
    stream = await startStreamReplica(edge, { name: "stream-1" });
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await stream?.stop();
    await edge?.stop();
    await new Promise((r) => backend?.close(r));
  });

  it("does not listen on an engine: nftables route's port (the kernel carries it) but lists the route", async () => {
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ host: "127.0.0.1", port: ports.kernel! });
      s.on("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    assert.equal(refused, "ECONNREFUSED");
    const { routes } = await unary(edge.admin, "listRoutes", {});
    const kernel = routes.find((r) => r.name === "kernel");
    assert.equal(kernel?.target, "192.0.2.10:80 (nftables)");
  });

  it("hands a port-matched connection to the pool's worker, which receives exactly the client's bytes", async () => {
    const payload = randomBytes(256 * 1024);
    const { data } = await tcpExchange(ports.plain!, { send: payload, end: true });
    const header = firstLine(data);
    assert.equal(header.worker, "plain-1");
    assert.equal(header.route, "by-port");
    assert.equal((header.remote as { address: string }).address, "127.0.0.1");
    const trailer = data.toString("latin1").trim().split("\n").at(-1);
    assert.equal(trailer, `sha256 ${createHash("sha256").update(payload).digest("hex")} ${payload.length}`);
  });

  it("listens on IPv6 too, and reports the v6 client address", async () => {
    const { data } = await tcpExchange(ports.plain!, { host: "::1", send: "x", end: true });
    const header = firstLine(data);
    assert.equal(header.worker, "plain-1");
    assert.equal((header.remote as { address: string }).address, "::1");
  });

  it("routes on the client address", async () => {
    const from2 = await new Promise<Buffer>((resolve) => {
      const s = connect({ host: "127.0.0.1", port: ports.byIp!, localAddress: "127.0.0.2" });
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", () => {});
      s.end();
    });
    assert.equal(firstLine(from2).worker, "a-1");
    assert.equal(firstLine((await tcpExchange(ports.byIp!, { end: true })).data).worker, "b-1");
  });

  it("routes by SNI, exact and glob, and replays the ClientHello byte for byte", async () => {
    for (const [name, worker] of [
      ["a.example.test", "a-1"],
      ["x.b.example.test", "b-1"],
    ] as const) {
      const hello = await captureClientHello(name, ["h2", "http/1.1"]);
      const rest = randomBytes(1000);
      const sent = Buffer.concat([hello, rest]);
      const { data } = await tcpExchange(ports.tls!, { send: sent, end: true });
      const header = firstLine(data);
      assert.equal(header.worker, worker, name);
      assert.equal(header.sni, name);
      const trailer = data.toString("latin1").trim().split("\n").at(-1);
      assert.equal(trailer, `sha256 ${createHash("sha256").update(sent).digest("hex")} ${sent.length}`);
    }
  });

  it("closes a TLS connection whose name no route serves, the bare parent of a glob, and two labels deep", async () => {
    for (const name of ["nobody.example.test", "b.example.test", "deep.x.b.example.test"]) {
      const hello = await captureClientHello(name);
      const { data, closed } = await tcpExchange(ports.tls!, { send: hello });
      assert.equal(closed, true);
      assert.equal(data.length, 0, name);
    }
  });

  it("routes plain HTTP by path and by Host, and answers 404 when nothing matches", async () => {
    const challenge = "GET /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: anything.test\r\n\r\n";
    let { data } = await tcpExchange(ports.http!, { send: challenge, end: true });
    let header = firstLine(data);
    assert.equal(header.worker, "a-1");
    assert.equal(header.host, "anything.test");
    assert.match(
      data.toString(),
      new RegExp(`sha256 ${createHash("sha256").update(challenge).digest("hex")}`),
    );

    ({ data } = await tcpExchange(ports.http!, {
      send: "GET / HTTP/1.1\r\nHost: WWW.B.Example.Test:80\r\n\r\n",
      end: true,
    }));
    header = firstLine(data);
    assert.equal(header.worker, "b-1");
    assert.equal(header.host, "www.b.example.test");

    ({ data } = await tcpExchange(ports.http!, { send: "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n" }));
    assert.match(data.toString(), /^HTTP\/1\.1 404 /);
  });

  it("forwards (through the stream pool) to a backend that is not a worker, and closes the client when the backend refuses", async () => {
    const { data } = await tcpExchange(ports.forward!, { send: "ping\n", end: true });
    assert.equal(data.toString(), "backend says hi\nping\n");
    const dead = await tcpExchange(ports.deadForward!, { send: "ping\n" });
    assert.equal(dead.closed, true);
    assert.equal(dead.data.length, 0);
  });

  it("closes blocked routes at once", async () => {
    const { data, closed } = await tcpExchange(ports.blocked!, { send: "hello" });
    assert.equal(closed, true);
    assert.equal(data.length, 0);
  });

  it("gives each protocol its own refusal when a pool has no worker: 421, 503, close", async () => {
    const smtp = await tcpExchange(ports.smtp!, {});
    assert.match(smtp.data.toString(), /^421 /);
    const web = await tcpExchange(ports.web!, {});
    assert.match(web.data.toString(), /^HTTP\/1\.1 503 /);
    const other = await tcpExchange(ports.nothing!, {});
    assert.equal(other.closed, true);
    assert.equal(other.data.length, 0);
  });

  it("reports routes and per-route stats over EdgeAdmin", async () => {
    const routes = await unary(edge.admin, "listRoutes", {});
    assert.ok(routes.routes.some((r) => r.name === "sni-glob" && r.target === "b" && r.action === "handoff"));
    // Counted against this test's own connections: a before and after, not what earlier tests left.
    const stat = async (route: string) => {
      // A route shows up in the stats with its first connection: absent means all zero.
      const found = (await unary(edge.admin, "getStats", {})).routes.find((r) => r.route === route);
      return {
        total: Number(found?.total ?? 0),
        active: Number(found?.active ?? 0),
        bytesIn: Number(found?.bytesIn ?? 0),
        bytesOut: Number(found?.bytesOut ?? 0),
      };
    };
    const [byPort, fwd, smtp] = [await stat("by-port"), await stat("fwd"), await stat("smtp")];
    await tcpExchange(ports.plain!, { send: "abc", end: true });
    const { data } = await tcpExchange(ports.forward!, { send: "ping\n", end: true });
    assert.equal(data.toString(), "backend says hi\nping\n");
    assert.match((await tcpExchange(ports.smtp!, {})).data.toString(), /^421 /);
    await waitFor(
      async () => {
        const now = [await stat("by-port"), await stat("fwd"), await stat("smtp")];
        return now[0]!.total === byPort.total + 1 &&
          now[1]!.active === 0 &&
          now[1]!.total === fwd.total + 1 &&
          now[2]!.total === smtp.total + 1
          ? now
          : null;
      },
      { timeout: 10_000, what: "one more connection on each route" },
    ).then(([, fwdNow]) => {
      assert.equal(fwdNow!.bytesIn - fwd.bytesIn, "ping\n".length, "client → backend bytes");
      assert.equal(
        fwdNow!.bytesOut - fwd.bytesOut,
        "backend says hi\nping\n".length,
        "backend → client bytes",
      );
    });
  });
});
