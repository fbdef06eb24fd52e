import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  captureClientHello,
  type EdgeHarness,
  freePort,
  readLine,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpExchange,
} from "@switchyard/testkit";
import { encodeProxyV1, encodeProxyV2 } from "./proxy-protocol-encode.js";

function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

async function headerFrom(
  localAddress: string,
  port: number,
  send?: Buffer | string,
): Promise<Record<string, unknown> | null> {
  const s = await connectFrom(localAddress, port);
  if (send !== undefined) s.write(send);
  try {
    return JSON.parse(await readLine(s, 3000)) as Record<string, unknown>;
  } catch {
    return null;
  } finally {
    s.destroy();
  }
}

/** True when the server closes the connection within a (generous) bound; the client only reads. */
function closedByServer(s: Socket): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const guard = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 8000);
    s.on("close", () => {
      clearTimeout(guard);
      resolve(true);
    });
    s.on("error", () => {});
    s.resume();
  });
}

describe("edge policy", () => {
  let edge: EdgeHarness;
  let worker: TestWorker;
  const ports: Record<string, number> = {};

  before(async () => {
    for (const k of ["lists", "limits", "proxied", "sni"]) ports[k] = await freePort();
    edge = await startEdge({
      edge: {
        ipBlockList: ["127.0.0.66/32"],
        proxyProtocol: { trusted: ["127.0.0.9/32"] },
        limits: { routingTimeoutMs: 1000 },
      },
      routes: [
        {
          name: "lists",
          match: { ports: [ports.lists] },
          action: { type: "handoff", pool: "p" },
          security: { ipAllowList: ["127.0.0.0/29"], ipBlockList: ["127.0.0.3/32"] },
        },
        {
          name: "limits",
          match: { ports: [ports.limits] },
          action: { type: "handoff", pool: "p" },
          security: { maxConnectionsPerIp: 2 },
        },
        { name: "proxied", match: { ports: [ports.proxied] }, action: { type: "handoff", pool: "p" } },
        {
          name: "sni",
          match: { ports: [ports.sni], domains: ["a.test"] },
          action: { type: "handoff", pool: "p" },
        },
      ],
    });
    worker = await startTestWorker(edge, { name: "w", pool: "p" });
  });

  after(async () => {
    await worker?.stop();
    await edge?.stop();
  });

  it("applies allow and block lists per route and globally", async () => {
    assert.ok(await headerFrom("127.0.0.2", ports.lists!));
    assert.equal(await headerFrom("127.0.0.3", ports.lists!), null, "route block list");
    assert.equal(await headerFrom("127.0.0.20", ports.lists!), null, "not in the allow list");
    assert.equal(await headerFrom("127.0.0.66", ports.proxied!), null, "global block list");
  });

  it("limits open connections per client address and frees the slot when one closes", async () => {
    const a = await connectFrom("127.0.0.4", ports.limits!);
    const b = await connectFrom("127.0.0.4", ports.limits!);
    assert.ok(JSON.parse(await readLine(a)));
    assert.ok(JSON.parse(await readLine(b)));
    assert.equal(await headerFrom("127.0.0.4", ports.limits!), null, "third connection from one address");
    assert.ok(await headerFrom("127.0.0.5", ports.limits!), "another address is not affected");
    a.destroy();
    // The worker reports the close; the slot comes back.
    let header: Record<string, unknown> | null = null;
    for (let i = 0; i < 50 && !header; i++) {
      header = await headerFrom("127.0.0.4", ports.limits!);
      if (!header) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(header, "a slot is free again after a close");
    b.destroy();
  });

  it("takes the client address from PROXY v1 and v2 headers sent by a trusted peer", async () => {
    const v1 = encodeProxyV1({
      source: { address: "203.0.113.7", port: 4000 },
      destination: { address: "198.51.100.1", port: 25 },
    });
    let header = await headerFrom("127.0.0.9", ports.proxied!, Buffer.concat([v1, Buffer.from("after")]));
    assert.deepEqual(header?.remote, { address: "203.0.113.7", port: 4000 });
    assert.equal(header?.proxied, true);
    const v2 = encodeProxyV2({
      source: { address: "2001:db8::7", port: 5000 },
      destination: { address: "2001:db8::1", port: 443 },
    });
    header = await headerFrom("127.0.0.9", ports.proxied!, v2);
    assert.deepEqual(header?.remote, { address: "2001:db8::7", port: 5000 });
  });

  it("applies IP lists to the address from the PROXY header", async () => {
    const v1 = encodeProxyV1({
      source: { address: "127.0.0.66", port: 1 },
      destination: { address: "127.0.0.1", port: 2 },
    });
    assert.equal(await headerFrom("127.0.0.9", ports.proxied!, v1), null);
  });

  it("refuses malformed PROXY headers, and PROXY headers from untrusted peers", async () => {
    const bad = [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", // missing CR
      "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",
      `PROXY TCP4 1.2.3.4 5.6.7.8 1 ${"9".repeat(120)}\r\n`,
      Buffer.concat([Buffer.from("0d0a0d0a000d0a515549540a", "hex"), Buffer.from([0x21, 0x11, 0xff, 0xff])]),
    ];
    for (const send of bad) {
      const { data, closed } = await tcpExchange(ports.proxied!, {
        host: "127.0.0.1",
        send,
        end: true,
        timeoutMs: 3000,
      });
      // From 127.0.0.1 (untrusted) a PROXY header is data for a port-only route: the route reads nothing.
      assert.ok(closed || data.length > 0);
    }
    for (const send of bad) {
      const s = await connectFrom("127.0.0.9", ports.proxied!);
      s.write(send);
      const got = await new Promise<string>((resolve) => {
        let text = "";
        s.on("data", (c) => {
          text += c;
        });
        s.on("close", () => resolve(text));
        s.on("error", () => {});
      });
      assert.equal(got, "", `a trusted peer's malformed header is refused: ${JSON.stringify(String(send))}`);
    }
    // A trusted peer must send a header: plain data from it is refused rather than guessed at.
    assert.equal(await headerFrom("127.0.0.9", ports.proxied!, "GET / HTTP/1.1\r\n\r\n"), null);
    // A PROXY header from an untrusted peer on a port that reads (SNI) is refused, not passed on.
    const spoof = Buffer.concat([
      encodeProxyV1({
        source: { address: "10.9.9.9", port: 1 },
        destination: { address: "127.0.0.1", port: 2 },
      }),
      await captureClientHello("a.test"),
    ]);
    const { data, closed } = await tcpExchange(ports.sni!, { send: spoof });
    assert.equal(closed, true);
    assert.equal(data.length, 0);
  });

  it("closes a client that connects to a port that needs bytes and sends nothing (slowloris)", async () => {
    const s = await connectFrom("127.0.0.1", ports.sni!);
    assert.equal(await closedByServer(s), true);
  });

  it("closes a trusted peer that sends half a PROXY header and stalls", async () => {
    const s = await connectFrom("127.0.0.9", ports.proxied!);
    s.write("PROXY TCP4 1.2.3.4");
    assert.equal(await closedByServer(s), true);
  });
});
