/**
 * The PROXY protocol against the real peer: HAProxy (`send-proxy`, `send-proxy-v2`) in front of the
 * edge, so a bug shared by our encoder and our parser cannot hide (the other e2e tests write the
 * headers with our own encoder).
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  freePort,
  type HaproxyHandle,
  readLine,
  startEdge,
  startHaproxy,
  startTestWorker,
  type TestWorker,
} from "@switchyard/testkit";

function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Connects through HAProxy from `localAddress`; returns the worker's header, our port and the echo of a probe. */
async function through(localAddress: string, port: number) {
  const s = await connectFrom(localAddress, port);
  try {
    const header = JSON.parse(await readLine(s, 5000)) as Record<string, unknown>;
    s.write("ping\n");
    const echo = await readLine(s, 5000);
    return { header, clientPort: s.localPort, echo };
  } finally {
    s.destroy();
  }
}

describe("PROXY protocol from HAProxy", () => {
  let edge: EdgeHarness;
  let worker: TestWorker;
  let haproxy: HaproxyHandle;
  let edgePort: number;

  before(async () => {
    edgePort = await freePort();
    edge = await startEdge({
      edge: { proxyProtocol: { trusted: ["127.0.0.9/32"] } },
      routes: [
        { name: "behind-haproxy", match: { ports: [edgePort] }, action: { type: "handoff", pool: "p" } },
      ],
    });
    worker = await startTestWorker(edge, { name: "w", pool: "p" });
    const server = { host: "127.0.0.1", port: edgePort };
    haproxy = await startHaproxy([
      { name: "v1", server, sendProxy: "v1", source: "127.0.0.9" },
      { name: "v2", server, sendProxy: "v2", source: "127.0.0.9" },
      { name: "untrusted", server, sendProxy: "v1" },
    ]);
  });

  after(async () => {
    await haproxy?.stop();
    await worker?.stop();
    await edge?.stop();
  });

  for (const version of ["v1", "v2"] as const) {
    it(`gives the worker the real client address from HAProxy's ${version} header`, async () => {
      const { header, clientPort, echo } = await through("127.0.0.42", haproxy.ports[version] as number);
      assert.deepEqual(header.remote, { address: "127.0.0.42", port: clientPort });
      assert.equal(header.proxied, true);
      assert.equal(header.route, "behind-haproxy");
      assert.equal(echo, "ping", "the client's bytes follow the header untouched");
    });
  }

  it("does not believe HAProxy's header when it connects from an untrusted address", async () => {
    const s = await connectFrom("127.0.0.42", haproxy.ports.untrusted as number);
    try {
      const header = JSON.parse(await readLine(s, 5000)) as Record<string, unknown>;
      // The edge sees HAProxy's own address and hands the header on as data: the worker echoes it.
      assert.equal((header.remote as { address: string }).address, "127.0.0.1");
      assert.equal(header.proxied, false);
      s.write("ping\n");
      assert.match(await readLine(s, 5000), /^PROXY TCP4 127\.0\.0\.42 127\.0\.0\.1 \d+ \d+\r$/);
      assert.equal(await readLine(s, 5000), "ping");
    } finally {
      s.destroy();
    }
  });
});
