/**
 * TCP forward routes end to end, through real processes: client -> edge (hands the fd off) ->
 * stream worker (connects to the target, relays) -> backend. The edge carries no byte.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { unary } from "@switchyard/runtime";
import {
  closedPort,
  type EdgeHarness,
  freePort,
  type HaproxyHandle,
  readLine,
  type StreamReplica,
  scrapeMetric,
  startEdge,
  startHaproxy,
  startStreamReplica,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import {
  bulkBackend,
  closeServer,
  hashIncoming,
  listen,
  patternHash,
  writePattern,
} from "../testing/backends.js";
import { startFullListener } from "../testing/full-listener.js";

const BULK = 256 * 1024 * 1024;
const run = promisify(execFile);
const yardctlBin = join(import.meta.dirname, "../../../../packages/yardctl/bin/yardctl.js");

interface ListedRoute {
  name: string;
  protocol: string;
  proxyProtocol: string;
  targets: Array<{ address: string; up: boolean; active: number }>;
  active: number;
  ended: number;
  relayedIn: number;
  relayedOut: number;
  refused: number;
  connectFailures: number;
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

function connectTo(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) }, () =>
      resolve(s),
    );
    s.once("error", reject);
  });
}

describe("tcp forward through the stream pool", () => {
  let edge: EdgeHarness;
  let stream: StreamReplica;
  let haproxy: HaproxyHandle | undefined;
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  let bulk: ReturnType<typeof bulkBackend>;
  const peerSeen: string[] = [];
  let tlsCa = "";
  let full: Awaited<ReturnType<typeof startFullListener>> | undefined;

  before(async () => {
    for (const k of [
      "echo",
      "named",
      "slow",
      "slow",
      "idle",
      "halfOpen",
      "dead",
      "failover",
      "bulk",
      "tls",
      "proxied",
      "trusted",
    ])
      ports[k] = await freePort();
    const echo = createServer((s) => {
      s.on("error", () => {});
      s.write("backend says hi\n");
      s.pipe(s);
    });
    servers.push(echo);
    const echoPort = await listen(echo);
    bulk = bulkBackend(BULK);
    servers.push(bulk.server);
    const bulkPort = await listen(bulk.server);
    const cert = await makeSelfSignedCertificate({ names: ["app.switchyard.test"] });
    tlsCa = cert.certPem;
    const tls = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
      s.on("error", () => {});
      s.end(`tls backend, sni ${String((s as TLSSocket).servername)}\n`);
    });
    servers.push(tls);
    const tlsPort = await listen(tls);
    // Behind HAProxy (accept-proxy): it re-sends, as v1, the client address our v2 header carried.
    const seen = createServer((s) => {
      s.on("error", () => {});
      s.once("data", (d) => {
        const line = d.toString("latin1").split("\r\n")[0] ?? "";
        peerSeen.push(line);
        s.end(`${line}\n`);
      });
    });
    servers.push(seen);
    const seenPort = await listen(seen);
    void peerSeen;
    haproxy = await startHaproxy([
      { name: "pp", server: { host: "127.0.0.1", port: seenPort }, sendProxy: "v1", acceptProxy: true },
    ]);
    const dead = await closedPort();
    full = await startFullListener();
    const route = (name: string, action: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      name,
      match: { ports: [ports[name]], ...extra },
      action: { type: "forward", ...action },
    });
    edge = await startEdge({
      edge: { proxyProtocol: { trusted: ["127.0.0.5/32"] } },
      routes: [
        route("echo", { host: "127.0.0.1", port: echoPort }),
        route("named", { host: "localhost", port: echoPort }),
        route("halfOpen", { host: "127.0.0.1", port: echoPort, halfOpen: true }),
        route("idle", { host: "127.0.0.1", port: echoPort, idleTimeoutMs: 400 }),
        route("dead", { targets: [{ host: "127.0.0.1", port: dead }], connectTimeoutMs: 2000 }),
        route("failover", {
          targets: [
            { host: "127.0.0.1", port: dead },
            { host: "127.0.0.1", port: echoPort },
          ],
        }),
        route("bulk", { host: "127.0.0.1", port: bulkPort }),
        route("slow", { host: "127.0.0.1", port: full.port, connectTimeoutMs: 300 }),
        route("tls", { host: "127.0.0.1", port: tlsPort }, { domains: ["app.switchyard.test"] }),
        route("proxied", { host: "127.0.0.1", port: haproxy.ports.pp, proxyProtocol: "v2" }),
      ],
    });
    stream = await startStreamReplica(edge, { name: "stream-1" });
  });

  after(async () => {
    await stream?.stop();
    await edge?.stop();
    await haproxy?.stop();
    full?.stop();
    for (const s of servers) await closeServer(s);
  });

  it("relays to a target given by name (Node connects, the relay takes over its socket)", async () => {
    const s = await connectTo(ports.named!);
    assert.equal(await readLine(s), "backend says hi");
    s.write("by name\n");
    assert.equal(await readLine(s), "by name");
    const ended = closed(s);
    s.end();
    await ended;
    const relayed = () =>
      scrapeMetric(stream.metricsPort, "switchyard_stream_connections_total", {
        route: "named",
        end: "closed",
      });
    await waitFor(async () => (await relayed()) === 1, {
      what: "the named route's connection counted closed",
    });
  });

  it("relays both ways and closes both sides when the client ends (no half-open by default)", async () => {
    const s = await connectTo(ports.echo!);
    assert.equal(await readLine(s), "backend says hi");
    s.write("ping\n");
    assert.equal(await readLine(s), "ping");
    const ended = closed(s);
    s.end();
    await ended;
  });

  it("closes both sides after the idle timeout, and not while bytes flow", async () => {
    const idleEnds = () =>
      scrapeMetric(stream.metricsPort, "switchyard_stream_connections_total", { route: "idle", end: "idle" });
    const before = await idleEnds();
    const s = await connectTo(ports.idle!);
    const ended = closed(s);
    assert.equal(await readLine(s), "backend says hi");
    // The passing twin: a line every 100 ms for a second keeps it open past the 400 ms timeout.
    for (let i = 0; i < 10; i++) {
      s.write(`tick ${i}\n`);
      assert.equal(await readLine(s), `tick ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await ended;
    await waitFor(async () => (await idleEnds()) === before + 1, { what: "the idle ending counted" });
  });

  it("shows the route's connections and bytes in the edge's stats (yardctl stats) once it ends", async () => {
    const stat = async () => {
      const found = (await unary(edge.admin, "getStats", {})).routes.find((r) => r.route === "halfOpen");
      return {
        total: Number(found?.total ?? 0),
        bytesIn: Number(found?.bytesIn ?? 0),
        bytesOut: Number(found?.bytesOut ?? 0),
      };
    };
    const before = await stat();
    const { data } = await tcpExchange(ports.halfOpen!, { send: "ping\n", end: true });
    assert.equal(data.toString(), "backend says hi\nping\n");
    const now = await waitFor(
      async () => {
        const s = await stat();
        return s.total === before.total + 1 && s.bytesOut > before.bytesOut ? s : null;
      },
      { what: "the stream worker's report of the ended connection" },
    );
    assert.equal(now.bytesIn - before.bytesIn, "ping\n".length);
    assert.equal(now.bytesOut - before.bytesOut, "backend says hi\nping\n".length);
  });

  it("passes a half-close on when the route opts in: the reply after the client's FIN arrives", async () => {
    const { data, closed: wasClosed } = await tcpExchange(ports.halfOpen!, { send: "ping\n", end: true });
    assert.equal(data.toString(), "backend says hi\nping\n");
    assert.equal(wasClosed, true);
  });

  it("closes the client at once when every target is down, and fails over to a live one", async () => {
    const dead = await tcpExchange(ports.dead!, { send: "ping\n" });
    assert.equal(dead.closed, true);
    assert.equal(dead.data.length, 0);
    // The twin: the first target is the same dead one, the second answers.
    const live = await connectTo(ports.failover!);
    assert.equal(await readLine(live), "backend says hi");
    live.destroy();
  });

  it("yardctl stream routes: each route's targets with health and open connections, and its counters", async () => {
    const routes = async (): Promise<Map<string, ListedRoute>> => {
      const argv = [yardctlBin, "stream", "routes", "--json", "--stream", stream.grpc];
      const { stdout } = await run(process.execPath, [...argv, "--token-file", edge.tokenFile]);
      const listed = JSON.parse(stdout) as { routes: ListedRoute[] };
      return new Map(listed.routes.map((r) => [r.name, r]));
    };
    const before = await routes();
    assert.deepEqual([...before.keys()].sort(), [
      "bulk",
      "dead",
      "echo",
      "failover",
      "halfOpen",
      "idle",
      "named",
      "proxied",
      "slow",
      "tls",
    ]);
    assert.equal(before.get("proxied")?.proxyProtocol, "v2");
    // A connection held open shows on its route and its target; its bytes count once it ends.
    const held = await connectTo(ports.echo!);
    assert.equal(await readLine(held), "backend says hi");
    const echoTarget = before.get("echo")?.targets[0]?.address;
    let open = await waitFor(async () => {
      const r = (await routes()).get("echo");
      return r?.active === (before.get("echo")?.active ?? 0) + 1 ? r : undefined;
    });
    assert.deepEqual(open.targets, [{ address: echoTarget, up: true, active: 1 }]);
    held.write("ping\n");
    assert.equal(await readLine(held), "ping");
    const ended = closed(held);
    held.end();
    await ended;
    open = await waitFor(async () => {
      const r = (await routes()).get("echo");
      return r?.ended === (before.get("echo")?.ended ?? 0) + 1 ? r : undefined;
    });
    assert.equal(open.active, before.get("echo")?.active ?? 0);
    assert.equal(open.relayedIn - (before.get("echo")?.relayedIn ?? 0), "ping\n".length);
    assert.equal(open.relayedOut - (before.get("echo")?.relayedOut ?? 0), "backend says hi\nping\n".length);
    // A client of the dead route: its connect is tried, fails, and marks the target down; the
    // client is refused (no target left). First wait out any down time an earlier test left, so
    // the connect is really tried (a target still down is skipped and comes up again by the clock).
    const deadBefore = await waitFor(
      async () => {
        const r = (await routes()).get("dead");
        return r?.targets[0]?.up ? r : undefined;
      },
      { timeout: 15_000, what: "the dead route's target up again (passive health)" },
    );
    await tcpExchange(ports.dead!, { send: "ping\n" });
    // (The relay thread may close the client before the worker has counted it.)
    const dead = await waitFor(async () => {
      const r = (await routes()).get("dead");
      return r && r.refused > deadBefore.refused ? r : undefined;
    });
    assert.equal(dead.refused, deadBefore.refused + 1);
    assert.equal(dead.connectFailures, deadBefore.connectFailures + 1);
    assert.equal(dead.targets[0]?.up, false);
  });

  it("closes the client when the target does not answer within the connect timeout", async () => {
    const timeouts = () =>
      scrapeMetric(stream.metricsPort, "switchyard_stream_connect_failures_total", {
        route: "slow",
        reason: "timeout",
      });
    const before = await timeouts();
    const slow = await tcpExchange(ports.slow!, { send: "ping\n", timeoutMs: 10_000 });
    assert.equal(slow.closed, true);
    assert.equal(slow.data.length, 0);
    assert.equal(await timeouts(), before + 1);
  });

  it("moves 256 MiB each way byte-exact (sha256)", async () => {
    const s = await connectTo(ports.bulk!);
    const fromBackend = hashIncoming(s, BULK);
    await writePattern(s, 1, BULK);
    assert.equal(await fromBackend, patternHash(2, BULK), "upstream -> client");
    assert.equal(await bulk.received.at(-1), patternHash(1, BULK), "client -> upstream");
    s.destroy();
  });

  it("passes TLS through by SNI: the client verifies the backend's own certificate", async () => {
    const handshake = (ca: string) =>
      new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({
          host: "127.0.0.1",
          port: ports.tls!,
          servername: "app.switchyard.test",
          ca: [ca],
          rejectUnauthorized: false,
        });
        s.once("error", reject);
        s.once("secureConnect", () => resolve(s));
      });
    const trusted = await handshake(tlsCa);
    assert.equal(trusted.authorized, true, String(trusted.authorizationError));
    assert.equal(await readLine(trusted), "tls backend, sni app.switchyard.test");
    trusted.destroy();
    // The twin: trusting another certificate, the same backend certificate does not verify.
    const other = await makeSelfSignedCertificate({ names: ["app.switchyard.test"] });
    const untrusted = await handshake(other.certPem);
    assert.equal(untrusted.authorized, false);
    assert.equal(untrusted.getPeerCertificate().subject.CN, "app.switchyard.test");
    untrusted.destroy();
  });

  it("sends PROXY v2 that HAProxy (accept-proxy) takes, with the real client address", async () => {
    const s = await connectTo(ports.proxied!);
    const local = s.localPort;
    const line = await readLine(s);
    assert.equal(line, `PROXY TCP4 127.0.0.1 127.0.0.1 ${local} ${ports.proxied}`);
    s.destroy();
  });

  it("carries the address from the PROXY header the edge received (a trusted balancer in front)", async () => {
    const s = await connectTo(ports.proxied!, "127.0.0.5");
    s.write("PROXY TCP4 203.0.113.9 198.51.100.1 40000 443\r\n");
    const line = await readLine(s);
    assert.equal(line, "PROXY TCP4 203.0.113.9 198.51.100.1 40000 443");
    s.destroy();
  });
});
