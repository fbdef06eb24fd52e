/** Forward routes on port ranges: each accepted port to the same offset on the target, or all to one. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type EdgeHarness,
  readLine,
  type StreamReplica,
  startEdge,
  startStreamReplica,
  tcpConnect,
} from "@switchyard/testkit";
import { closeServer } from "../testing/backends.js";
import { freePortRange } from "../testing/port-range.js";

describe("forward routes on port ranges", () => {
  let edge: EdgeHarness;
  let stream: StreamReplica;
  const backends: Server[] = [];
  let offsetBase = 0;
  let fixedBase = 0;
  let targetBase = 0;

  before(async () => {
    targetBase = await freePortRange(3);
    for (let i = 0; i < 3; i++) {
      const port = targetBase + i;
      const server = createServer((s) => {
        s.on("error", () => {});
        s.end(`backend ${port}\n`);
      });
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
      backends.push(server);
    }
    offsetBase = await freePortRange(3);
    fixedBase = await freePortRange(2);
    edge = await startEdge({
      routes: [
        {
          name: "offset",
          match: { ports: [{ from: offsetBase, to: offsetBase + 2 }] },
          action: {
            type: "forward",
            host: "127.0.0.1",
            port: targetBase,
            portMapping: "offset",
            halfOpen: true,
          },
        },
        {
          name: "fixed",
          match: { ports: [{ from: fixedBase, to: fixedBase + 1 }] },
          action: { type: "forward", host: "127.0.0.1", port: targetBase + 1, halfOpen: true },
        },
      ],
    });
    stream = await startStreamReplica(edge, { name: "stream-ranges" });
  });

  after(async () => {
    await stream?.stop();
    await edge?.stop();
    for (const b of backends) await closeServer(b);
  });

  it("sends each port of an offset range to the same offset on the target", async () => {
    for (let i = 0; i < 3; i++) {
      const s = await tcpConnect(offsetBase + i);
      assert.equal(await readLine(s), `backend ${targetBase + i}`);
      s.destroy();
    }
  });

  it("sends every port of a fixed range to the one target port", async () => {
    for (let i = 0; i < 2; i++) {
      const s = await tcpConnect(fixedBase + i);
      assert.equal(await readLine(s), `backend ${targetBase + 1}`);
      s.destroy();
    }
  });
});
