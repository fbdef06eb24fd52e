import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import * as http2 from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { scrapeMetric, waitFor } from "@switchyard/testkit";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { siteServing } from "../testing/raw-client.js";
import { startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const SITE = "goaway.switchyard.test";

/**
 * An HTTP/2 session after GOAWAY with no stream left is over. A client that said GOAWAY and left
 * its connection open held its slot until the idle deadline (bench/http saw HTTP/2 connections held
 * after h2load exited, and drains that timed out). The idle deadline here is ten minutes, so only the
 * GOAWAY handling can give the slot back within the wait. The reset case passed before the fix too;
 * it stays as the twin for a client that goes away for good.
 */
describe("http: an HTTP/2 session the client ends with GOAWAY is closed, not held until idle", () => {
  let stack: HttpStack;
  let upstream: TestUpstream;
  let ca: Buffer;
  let metrics: number;

  before(async () => {
    upstream = await startTestUpstream("goaway");
    stack = await startHttpStack(() => ({
      limits: { idleTimeoutMs: 600_000 },
      sites: [{ domains: [SITE], upstreams: [upstream.address] }],
    }));
    ca = await readFile(stack.caFile);
    metrics = stack.replicas[0]?.metricsPort ?? 0;
    const target = { port: stack.https, servername: SITE, ca };
    await siteServing(target);
  });
  after(async () => {
    await stack?.stop();
    await upstream?.close();
  });

  const held = async () => scrapeMetric(metrics, "switchyard_http_connections");

  /** An h2 session over a TCP socket the test keeps (to reset it), with one answered request. */
  async function session(): Promise<{ session: http2.ClientHttp2Session; raw: Socket }> {
    const raw = netConnect({ host: "127.0.0.1", port: stack.https });
    await once(raw, "connect");
    const s = http2.connect(`https://${SITE}:${stack.https}`, {
      createConnection: () => tlsConnect({ socket: raw, servername: SITE, ca, ALPNProtocols: ["h2"] }),
    });
    s.on("error", () => {});
    const req = s.request({ ":path": "/download?bytes=1000" });
    req.resume();
    const [headers] = (await once(req, "response")) as [http2.IncomingHttpHeaders];
    assert.equal(headers[":status"], 200);
    await once(req, "end");
    return { session: s, raw };
  }

  it("a client's GOAWAY then silence: the server closes the session; the twin without GOAWAY stays held", async () => {
    await waitFor("no connection held", async () => (await held()) === 0, 15_000);
    const quiet = await session();
    const leaving = await session();
    try {
      await waitFor("both held", async () => (await held()) === 2, 15_000);
      leaving.session.goaway(http2.constants.NGHTTP2_NO_ERROR);
      await waitFor("the GOAWAY session given back", async () => (await held()) === 1, 15_000);
      // The passing twin: the session that said nothing is still held and still serves.
      const req = quiet.session.request({ ":path": "/download?bytes=10" });
      req.resume();
      const [headers] = (await once(req, "response")) as [http2.IncomingHttpHeaders];
      assert.equal(headers[":status"], 200);
      assert.equal(await held(), 1);
    } finally {
      quiet.session.destroy();
      leaving.session.destroy();
    }
    await waitFor("back to baseline", async () => (await held()) === 0, 15_000);
  });

  it("a client's GOAWAY then a reset: the slot is given back long before the idle deadline", async () => {
    await waitFor("no connection held", async () => (await held()) === 0, 15_000);
    const gone = await session();
    await waitFor("held", async () => (await held()) === 1, 15_000);
    gone.session.goaway(http2.constants.NGHTTP2_NO_ERROR);
    gone.raw.resetAndDestroy();
    await waitFor("the reset session given back", async () => (await held()) === 0, 15_000);
  });
});
