import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { afterEach, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { waitFor } from "@switchyard/testkit";
import { curl } from "../testing/curl.js";
import { type ScriptedStack, SCRIPTED_SITE as SITE, startScriptedStack } from "../testing/scripted-stack.js";

/**
 * Connections the edge had already routed when the worker left its pool arrive after the drain
 * began (the edge hands over what it holds before it closes the channel). Each must be served once
 * and closed, or closed after a 2 s grace when no request comes, and the drain waits for it. The
 * worker's own deadlines are 10 min and its drain timeout 30 s here: only the drain's handling can
 * end these connections within the waits. A "keeper" request in flight from before the drain keeps
 * the worker draining (and its metrics scrapeable) until each test lets it finish.
 */
describe("http: a connection handed over while the worker drains", () => {
  let stack: ScriptedStack | undefined;
  const clients: Array<{ destroy(): void }> = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await stack?.stop();
    stack = undefined;
  });

  /** A TCP connection to the scripted edge, held there until handed over. */
  async function tcp(s: ScriptedStack): Promise<Socket> {
    const socket = netConnect({ host: "127.0.0.1", port: s.edge.port });
    socket.on("error", () => {});
    clients.push(socket);
    await once(socket, "connect");
    return socket;
  }

  /** A TLS connection to the site through the scripted edge, offering `alpn`. */
  const siteTls = (s: ScriptedStack, alpn: "http/1.1" | "h2"): TLSSocket =>
    tlsConnect({ host: "127.0.0.1", port: s.edge.port, servername: SITE, ca: s.ca, ALPNProtocols: [alpn] });

  /** siteTls, its errors ignored (the server ending it is what tests look for) and destroyed after the test. */
  function tlsClient(s: ScriptedStack, alpn: "http/1.1" | "h2"): TLSSocket {
    const tls = siteTls(s, alpn);
    tls.on("error", () => {});
    clients.push(tls);
    return tls;
  }

  /** A plain HTTP/1.1 GET /slow handed over before the drain: the drain waits for it. */
  async function keeper(s: ScriptedStack): Promise<{ release(): void; answer: Promise<string> }> {
    const socket = await tcp(s);
    await s.edge.holdingAtLeast(1);
    s.edge.handOver("http");
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    const answer = once(socket, "close").then(() => text);
    socket.write(`GET /slow HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
    await waitFor("the upstream holds the keeper", () => s.upstream.slow.length === 1, 10_000, 10);
    return { release: () => s.upstream.slow[0]?.end("kept\n"), answer };
  }

  /**
   * SIGTERM; while the worker deregisters, `handOver` gives it the connections held (as the edge
   * does with the ones in flight), and Deregister is answered once the worker holds them (the
   * worker closes its end of the handoff channel at the answer: what it had not read would be lost).
   */
  async function drainWith(
    s: ScriptedStack,
    handOver: () => void,
  ): Promise<{ exit: Promise<number | null> }> {
    const before = await s.held();
    let handed = false;
    s.edge.onDeregister = async () => {
      handOver();
      await waitFor("the worker to hold them", async () => (await s.held()) > before, 15_000, 10);
      handed = true;
    };
    const exit = s.terminate();
    await waitFor("the connections handed over during the drain", () => handed, 20_000, 10);
    // (In an object: an async function's returned promise would be awaited with it.)
    return { exit };
  }

  const drained = (s: ScriptedStack) =>
    s.worker.process.waitForLine((l) => l.msg === "http connections drained", 30_000);

  /** The gauges back to the keeper alone (every adopted connection given back); then the keeper ends. */
  async function backToKeeper(s: ScriptedStack, keep: Awaited<ReturnType<typeof keeper>>): Promise<string> {
    await waitFor("gauges back to the keeper alone", async () => (await s.held()) === 1, 15_000, 10);
    keep.release();
    return keep.answer;
  }

  /** curl over `version` to the site, held by the edge and handed over during the drain: its answer. */
  async function curlDuringDrain(s: ScriptedStack, version: "--http1.1" | "--http2", path: string) {
    const url = `https://${SITE}:${s.edge.port}${path}`;
    const result = curl([
      version,
      "--cacert",
      s.caFile,
      "--resolve",
      `${SITE}:${s.edge.port}:127.0.0.1`,
      url,
    ]);
    await s.edge.holdingAtLeast(1);
    const { exit } = await drainWith(s, () => s.edge.handOver("https", SITE));
    const answer = await result;
    assert.equal(answer.exitCode, 0, answer.stderr);
    assert.equal(answer.status, 200);
    return { answer, exit };
  }

  it("HTTP/1.1 over TLS: served once with Connection: close, then closed by the server; the drain waited for it", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    const tls = tlsClient(s, "http/1.1");
    const secure = once(tls, "secureConnect");
    await s.edge.holdingAtLeast(1);
    const { exit } = await drainWith(s, () => s.edge.handOver("https", SITE));
    await secure;
    let text = "";
    tls.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    // A keep-alive request: the server, not the client, says this is the last one.
    tls.write(`GET /download?bytes=5 HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
    await once(tls, "close");
    const heads = text.split("\r\n\r\n")[0]?.split("\r\n") ?? [];
    assert.equal(heads[0], "HTTP/1.1 200 OK");
    assert.ok(heads.includes("connection: close") || heads.includes("Connection: close"), text);
    assert.equal(text.match(/HTTP\/1\.1 /g)?.length, 1);
    assert.match(await backToKeeper(s, keep), /^HTTP\/1\.1 200 .*connection: close.*kept\n$/is);
    const line = await drained(s);
    assert.equal(line.left, 0);
    assert.equal(await exit, 0);
  });

  it("HTTP/1.1 with curl: the response says Connection: close", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    const { answer, exit } = await curlDuringDrain(s, "--http1.1", "/download?bytes=5");
    assert.equal(answer.headers.connection, "close");
    await backToKeeper(s, keep);
    assert.equal(await exit, 0);
  });

  it("a TLS handshake that never finishes is closed by the server after the grace", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    const socket = await tcp(s);
    await s.edge.holdingAtLeast(1);
    const graced = await s.deadlines("drain");
    const { exit } = await drainWith(s, () => s.edge.handOver("https", SITE));
    // Half of a TLS record header, then nothing.
    socket.write(Buffer.from([0x16, 0x03]));
    socket.resume();
    await waitFor(
      "the server to close the silent handshake",
      () => socket.readableEnded || socket.destroyed,
      15_000,
      10,
    );
    assert.equal(await s.deadlines("drain"), graced + 1);
    await backToKeeper(s, keep);
    assert.equal(await exit, 0);
  });

  it("a request head dribbled byte by byte does not extend the grace: the server closes it", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    const tls = tlsClient(s, "http/1.1");
    await s.edge.holdingAtLeast(1);
    const graced = await s.deadlines("drain");
    const secure = once(tls, "secureConnect");
    const { exit } = await drainWith(s, () => s.edge.handOver("https", SITE));
    await secure;
    tls.resume();
    const head = `GET / HTTP/1.1\r\nHost: ${SITE}\r\nX-Slow: ${"x".repeat(10_000)}`;
    let sent = 0;
    const dribble = setInterval(() => {
      if (tls.writable) tls.write(head.slice(sent, ++sent));
    }, 100);
    try {
      await waitFor(
        "the server to close the dribbling client",
        () => tls.readableEnded || tls.destroyed,
        15_000,
        10,
      );
    } finally {
      clearInterval(dribble);
    }
    assert.ok(sent < head.length, "the head was never complete");
    assert.equal(await s.deadlines("drain"), graced + 1);
    await backToKeeper(s, keep);
    assert.equal(await exit, 0);
  });

  it("HTTP/2: GOAWAY NO_ERROR naming the client's stream, the stream served, then the session closed", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    let tls: TLSSocket | undefined;
    const session = http2.connect(`https://${SITE}:${s.edge.port}`, {
      createConnection: () => {
        tls = siteTls(s, "h2");
        return tls;
      },
    });
    session.on("error", () => {});
    clients.push(session);
    const goaways: Array<[number, number]> = [];
    session.on("goaway", (code: number, lastStreamID: number) => goaways.push([code, lastStreamID]));
    // The request is sent with the preface, before the server has said anything.
    const req = session.request({ ":path": "/download?bytes=7" });
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString("latin1");
    });
    const response = once(req, "response").then(([h]) => (h as http2.IncomingHttpHeaders)[":status"]);
    const ended = once(req, "end");
    await s.edge.holdingAtLeast(1);
    const { exit } = await drainWith(s, () => s.edge.handOver("https", SITE));
    assert.equal(await response, 200);
    await ended;
    assert.equal(body.length, 7);
    await waitFor("a GOAWAY", () => goaways.length > 0, 15_000, 10);
    for (const [code, last] of goaways) {
      assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok(last >= (req.id ?? 1), `GOAWAY last-stream-id ${last} covers stream ${req.id}`);
    }
    await waitFor(
      "the server to close the session",
      () => tls?.destroyed === true || session.closed,
      15_000,
      10,
    );
    await backToKeeper(s, keep);
    assert.equal(await exit, 0);
  });

  it("HTTP/2 with curl: served through the drain, and the worker gives the session back", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const keep = await keeper(s);
    const { answer, exit } = await curlDuringDrain(s, "--http2", "/download?bytes=9");
    assert.equal(answer.version, "2");
    assert.equal(answer.body.length, 9);
    await backToKeeper(s, keep);
    assert.equal(await exit, 0);
  });

  it("yardctl drain (the edge's drain message): idle keep-alive closed, HTTP/2 GOAWAY, the next connection served once", async () => {
    stack = await startScriptedStack();
    const s = stack;
    const idle = tlsClient(s, "http/1.1");
    const idleSecure = once(idle, "secureConnect");
    await s.edge.holdingAtLeast(1);
    s.edge.handOver("https", SITE);
    await idleSecure;
    let idleText = "";
    idle.on("data", (d: Buffer) => {
      idleText += d.toString("latin1");
    });
    idle.write(`GET /download?bytes=3 HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
    await waitFor("the keep-alive response", () => idleText.includes("\r\n\r\n"), 15_000, 10);
    assert.doesNotMatch(idleText, /connection: close/i);
    const session = http2.connect(`https://${SITE}:${s.edge.port}`, {
      createConnection: () => siteTls(s, "h2"),
    });
    session.on("error", () => {});
    clients.push(session);
    let goaway: number | undefined;
    session.once("goaway", (code: number) => {
      goaway = code;
    });
    const req = session.request({ ":path": "/download?bytes=1" });
    req.resume();
    await s.edge.holdingAtLeast(1);
    s.edge.handOver("https", SITE);
    await once(req, "end");
    await waitFor("both held", async () => (await s.held()) === 2, 15_000, 10);
    s.edge.requestDrain();
    await waitFor("a GOAWAY", () => goaway !== undefined, 15_000, 10);
    assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR);
    await waitFor(
      "the idle keep-alive connection closed by the server",
      () => idle.readableEnded || idle.destroyed,
      15_000,
      10,
    );
    await waitFor("both given back", async () => (await s.held()) === 0, 15_000, 10);
    // A connection the edge still had in flight: served once, Connection: close.
    const url = `https://${SITE}:${s.edge.port}/download?bytes=2`;
    const result = curl([
      "--http1.1",
      "--cacert",
      s.caFile,
      "--resolve",
      `${SITE}:${s.edge.port}:127.0.0.1`,
      url,
    ]);
    await s.edge.holdingAtLeast(1);
    s.edge.handOver("https", SITE);
    const answer = await result;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.connection, "close");
    await waitFor("back to baseline", async () => (await s.held()) === 0, 15_000, 10);
  });
});
