import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { unary } from "@switchyard/runtime";
import {
  type GatedProxy,
  type ManagedProcess,
  spawnServiceReplica,
  startGatedProxy,
  waitFor,
  writeConfigVariant,
} from "@switchyard/testkit";
import { JOIN_ANYWAY, JOIN_WAITING } from "@switchyard/worker";
import { curl } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const SITE = "late.switchyard.test";
const said = (proc: ManagedProcess, msg: string) =>
  proc.lines.filter((l) => typeof l !== "string" && l.msg === msg).length;
const servedBy = (proc: ManagedProcess, path: string) =>
  proc.lines.filter((l) => typeof l !== "string" && l.msg === "access" && l.path === path).length;

describe("http: a starting replica joins the edge's pool once it has read the certs bucket", () => {
  let stack: HttpStack;
  let upstream: TestUpstream;
  let run = 0;

  const get = (scheme: "https" | "http", path: string) => {
    const port = scheme === "https" ? stack.https : stack.http;
    return curl([
      "--cacert",
      stack.caFile,
      "--resolve",
      `${SITE}:${port}:127.0.0.1`,
      `${scheme}://${SITE}:${port}${path}`,
    ]);
  };
  const pending = async () => Number((await unary(stack.edge.admin, "getStats", {})).connectionsPending);

  /**
   * A replica whose NATS is the gate (held until the test opens it), with its own copy of the
   * config; the stack's own replica is gone, so the pool has only this one.
   */
  const startLateReplica = async (gate: GatedProxy, waitMs: number) => {
    const name = `http-late-${++run}`;
    const configPath = await writeConfigVariant(stack.edge.configPath, name, (config) => {
      config.nats = { ...config.nats, servers: [`nats://127.0.0.1:${gate.port}`] };
      config.http = { ...config.http, certificatesWaitMs: waitMs };
    });
    const proc = spawnServiceReplica({ ...stack.edge, configPath }, "http", {
      name,
      env: { SWITCHYARD_KV_KEY_FILE: stack.kvKeyFile },
    });
    await proc.waitForLine((l) => l.msg === "http started", 30_000);
    return proc;
  };

  before(async () => {
    upstream = await startTestUpstream("late");
    stack = await startHttpStack(() => ({
      sites: [{ domains: [SITE], upstreams: [upstream.address], redirectHttp: false }],
    }));
    // The certificate is issued (the stack's replica serves it), then that replica leaves.
    await waitFor(
      "the site's certificate",
      async () => (await get("https", "/")).status === 200,
      30_000,
      250,
    );
    for (const r of stack.replicas.splice(0)) await r.stop();
  });
  after(async () => {
    await stack?.stop();
    await upstream?.close();
  });

  it("held away from NATS it does not join (the edge holds the client); once NATS answers it reads the bucket, joins and completes the handshake", async () => {
    const gate = await startGatedProxy({ host: "127.0.0.1", port: stack.nats.port });
    const proc = await startLateReplica(gate, 120_000);
    try {
      await proc.waitForLine((l) => l.msg === JOIN_WAITING, 10_000);
      await waitFor("the replica's NATS connection, held at the gate", () => gate.accepted > 0, 10_000);
      const answer = get("https", "/held");
      await waitFor(
        "the client waiting at the edge for a worker",
        async () => (await pending()) === 1,
        10_000,
      );
      assert.equal(said(proc, "attached to the edge"), 0, "joined before reading the certs bucket");
      gate.open();
      const res = await answer;
      assert.equal(res.status, 200, res.stderr);
      await waitFor("the replica's access line for /held", () => servedBy(proc, "/held") === 1, 10_000);
      const order = proc.lines.flatMap((l) => (typeof l === "string" ? [] : [l.msg]));
      const loaded = order.indexOf("certificates loaded from the certs bucket");
      assert.ok(loaded >= 0 && loaded < order.indexOf("attached to the edge"), order.join(" | "));
    } finally {
      await proc.stop();
      await gate.close();
    }
  });

  it("with NATS away for good it joins after certificatesWaitMs: plain http is served, tls: auto handshakes fail", async () => {
    const gate = await startGatedProxy({ host: "127.0.0.1", port: stack.nats.port });
    const proc = await startLateReplica(gate, 500);
    try {
      await proc.waitForLine((l) => l.msg === "attached to the edge", 15_000);
      assert.equal(said(proc, "certificates loaded from the certs bucket"), 0);
      const warned = proc.lines.filter((l) => typeof l !== "string" && l.msg === JOIN_ANYWAY);
      assert.deepEqual(
        warned.map((l) => (l as { meanwhile?: string }).meanwhile),
        ["tls: auto sites fail their handshakes"],
      );
      const plain = await get("http", "/plain");
      assert.equal(plain.status, 200, plain.stderr);
      await waitFor("the replica's access line for /plain", () => servedBy(proc, "/plain") === 1, 10_000);
      const secure = await get("https", "/secure");
      // curl's "SSL connect error": the handshake was refused (no certificate for the name yet).
      assert.equal(secure.exitCode, 35, secure.stderr);
      assert.equal(upstream.seen.filter((r) => r.url === "/secure").length, 0);
    } finally {
      await proc.stop();
      await gate.close();
    }
  });
});
