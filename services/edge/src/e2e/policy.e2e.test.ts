import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { encodeProxyV1, encodeProxyV2 } from "@switchyard/proxy-protocol";
import {
  captureClientHello,
  type EdgeHarness,
  freePort,
  readLine,
  startEdge,
  startTestWorker,
  type TestWorker,
  tcpExchange,
  waitFor,
} from "@switchyard/testkit";

function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

type Outcome = { kind: "header"; header: Record<string, unknown> } | { kind: "refused" };

/**
 * What the edge did with one connection from `localAddress`: handed it to the worker (whose first
 * line is a JSON header), or refused it (closed, or reset, with not one byte sent). Anything else —
 * no answer within 5 s, a connect error, bytes that are not the worker's header — fails the test,
 * so a refusal check cannot pass on a timeout or a crashed worker.
 */
async function outcomeFrom(localAddress: string, port: number, send?: Buffer | string): Promise<Outcome> {
  const s = await connectFrom(localAddress, port);
  if (send !== undefined) s.write(send);
  return new Promise<Outcome>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new Error(
          `from ${localAddress}: neither a header nor a close within 5 s (got ${JSON.stringify(text)})`,
        ),
      );
    }, 5000);
    const finish = (outcome: Outcome | Error) => {
      clearTimeout(timer);
      s.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    s.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const nl = text.indexOf("\n");
      if (nl < 0) return;
      try {
        finish({ kind: "header", header: JSON.parse(text.slice(0, nl)) as Record<string, unknown> });
      } catch (err) {
        finish(
          new Error(`from ${localAddress}: not a worker header: ${JSON.stringify(text)}`, { cause: err }),
        );
      }
    });
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET") finish(err);
    });
    s.on("close", () => {
      if (text === "") finish({ kind: "refused" });
      else finish(new Error(`from ${localAddress}: closed after ${JSON.stringify(text)}`));
    });
  });
}

/** The worker's header for a connection the edge must hand off (fails on a refusal). */
async function headerFrom(
  localAddress: string,
  port: number,
  send?: Buffer | string,
): Promise<Record<string, unknown>> {
  const outcome = await outcomeFrom(localAddress, port, send);
  assert.equal(
    outcome.kind,
    "header",
    `from ${localAddress} to port ${port}: expected a hand-off, got a refusal`,
  );
  return (outcome as { header: Record<string, unknown> }).header;
}

/** Asserts the edge refuses the connection: closed with no byte sent (never a timeout or error). */
async function assertRefused(
  localAddress: string,
  port: number,
  why: string,
  send?: Buffer | string,
): Promise<void> {
  assert.deepEqual(await outcomeFrom(localAddress, port, send), { kind: "refused" }, why);
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
    assert.equal(
      ((await headerFrom("127.0.0.2", ports.lists!)).remote as { address: string }).address,
      "127.0.0.2",
    );
    await assertRefused("127.0.0.3", ports.lists!, "route block list");
    await assertRefused("127.0.0.20", ports.lists!, "not in the allow list");
    assert.equal(
      (await headerFrom("127.0.0.65", ports.proxied!)).route,
      "proxied",
      "next to a blocked address",
    );
    await assertRefused("127.0.0.66", ports.proxied!, "global block list");
  });

  it("limits open connections per client address and frees the slot when one closes", async () => {
    const a = await connectFrom("127.0.0.4", ports.limits!);
    const b = await connectFrom("127.0.0.4", ports.limits!);
    assert.ok(JSON.parse(await readLine(a)));
    assert.ok(JSON.parse(await readLine(b)));
    await assertRefused("127.0.0.4", ports.limits!, "third connection from one address");
    assert.equal(
      (await headerFrom("127.0.0.5", ports.limits!)).route,
      "limits",
      "another address is not affected",
    );
    a.destroy();
    // The worker reports the close; the slot comes back (a refusal meanwhile is expected, anything else fails).
    const header = await waitFor(
      async () => {
        const outcome = await outcomeFrom("127.0.0.4", ports.limits!);
        return outcome.kind === "header" ? outcome.header : null;
      },
      { timeout: 10_000, interval: 100, what: "a slot to be free again after a close" },
    );
    assert.equal((header.remote as { address: string }).address, "127.0.0.4");
    b.destroy();
  });

  it("takes the client address from PROXY v1 and v2 headers sent by a trusted peer", async () => {
    const v1 = encodeProxyV1({
      source: { address: "203.0.113.7", port: 4000 },
      destination: { address: "198.51.100.1", port: 25 },
    });
    let header = await headerFrom("127.0.0.9", ports.proxied!, Buffer.concat([v1, Buffer.from("after")]));
    assert.deepEqual(header.remote, { address: "203.0.113.7", port: 4000 });
    assert.equal(header.proxied, true);
    const v2 = encodeProxyV2({
      source: { address: "2001:db8::7", port: 5000 },
      destination: { address: "2001:db8::1", port: 443 },
    });
    header = await headerFrom("127.0.0.9", ports.proxied!, v2);
    assert.deepEqual(header.remote, { address: "2001:db8::7", port: 5000 });
  });

  it("applies IP lists to the address from the PROXY header", async () => {
    const v1 = encodeProxyV1({
      source: { address: "127.0.0.66", port: 1 },
      destination: { address: "127.0.0.1", port: 2 },
    });
    await assertRefused("127.0.0.9", ports.proxied!, "blocked address in the PROXY header", v1);
    const allowed = encodeProxyV1({
      source: { address: "127.0.0.65", port: 1 },
      destination: { address: "127.0.0.1", port: 2 },
    });
    assert.deepEqual((await headerFrom("127.0.0.9", ports.proxied!, allowed)).remote, {
      address: "127.0.0.65",
      port: 1,
    });
  });

  it("refuses malformed PROXY headers, and PROXY headers from untrusted peers", async () => {
    const bad = [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", // missing CR
      "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",
      `PROXY TCP4 1.2.3.4 5.6.7.8 1 ${"9".repeat(120)}\r\n`,
      Buffer.concat([Buffer.from("0d0a0d0a000d0a515549540a", "hex"), Buffer.from([0x21, 0x11, 0xff, 0xff])]),
    ];
    for (const send of bad) {
      const { data, closed, error } = await tcpExchange(ports.proxied!, {
        host: "127.0.0.1",
        send,
        end: true,
        timeoutMs: 5000,
      });
      // From 127.0.0.1 (untrusted) a PROXY header is data for a port-only route: the route reads
      // nothing, the echo worker gets the connection from 127.0.0.1 and sends every byte back.
      assert.equal(error, undefined);
      assert.equal(closed, true, "the worker ends the echo after our half-close");
      const text = data.toString("latin1");
      const nl = text.indexOf("\n");
      const header = JSON.parse(text.slice(0, nl)) as Record<string, unknown>;
      assert.equal((header.remote as { address: string }).address, "127.0.0.1");
      assert.equal(header.proxied, false);
      assert.equal(text.slice(nl + 1), Buffer.from(send).toString("latin1"), "every byte echoed, none eaten");
    }
    for (const send of bad) {
      await assertRefused(
        "127.0.0.9",
        ports.proxied!,
        `a trusted peer's malformed header: ${JSON.stringify(String(send))}`,
        send,
      );
    }
    // A trusted peer must send a header: plain data from it is refused rather than guessed at...
    await assertRefused(
      "127.0.0.9",
      ports.proxied!,
      "a trusted peer without a header",
      "GET / HTTP/1.1\r\n\r\n",
    );
    // ...and the same bytes behind a good header are handed on.
    const good = encodeProxyV1({
      source: { address: "192.0.2.5", port: 7 },
      destination: { address: "127.0.0.1", port: 8 },
    });
    assert.deepEqual(
      (
        await headerFrom(
          "127.0.0.9",
          ports.proxied!,
          Buffer.concat([good, Buffer.from("GET / HTTP/1.1\r\n\r\n")]),
        )
      ).remote,
      { address: "192.0.2.5", port: 7 },
    );
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
    // The same ClientHello without the spoofed header is routed.
    assert.equal(
      (await headerFrom("127.0.0.1", ports.sni!, await captureClientHello("a.test"))).sni,
      "a.test",
    );
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
