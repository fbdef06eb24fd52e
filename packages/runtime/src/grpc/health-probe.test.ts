import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { edgeV1 } from "@switchyard/proto";
import { captureLogs } from "../testing/log-capture.js";
import { createGrpcServer } from "./grpc-server.js";
import { probeHealth } from "./health-probe.js";

const run = promisify(execFile);
const healthcheck = fileURLToPath(new URL("../healthcheck.js", import.meta.url));

async function startServer(t: { after(fn: () => unknown): void }) {
  const server = createGrpcServer({ logger: captureLogs("edge").logger, token: "t", service: "edge" });
  const unused = async () => {
    throw new Error("not called");
  };
  server.add(edgeV1.EdgeControlService, { register: unused, heartbeat: unused, deregister: unused });
  const port = await server.listen("127.0.0.1:0");
  t.after(() => server.shutdown(1000));
  return { server, address: `127.0.0.1:${port}` };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

test("the probe reports SERVING, then NOT_SERVING once the server drains", async (t) => {
  const { server, address } = await startServer(t);
  assert.deepEqual(await probeHealth({ address }), { status: "SERVING" });
  assert.equal((await probeHealth({ address, service: "switchyard.edge.v1.EdgeControl" })).status, "SERVING");
  assert.equal((await probeHealth({ address, service: "no.such.Service" })).status, "SERVICE_UNKNOWN");
  server.setServing("", false);
  assert.equal((await probeHealth({ address })).status, "NOT_SERVING");
});

test("the healthcheck command exits 0 for SERVING and 1 for a closed port", async (t) => {
  const { address } = await startServer(t);
  const ok = await run(process.execPath, [healthcheck, address]);
  assert.match(ok.stdout, /SERVING/);
  const port = await closedPort();
  await assert.rejects(
    run(process.execPath, [healthcheck, `127.0.0.1:${port}`]),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /UNREACHABLE/);
      return true;
    },
  );
});
