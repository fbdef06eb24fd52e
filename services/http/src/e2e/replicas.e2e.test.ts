import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import * as http2 from "node:http2";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { certsV1 } from "@switchyard/proto";
import { createGrpcClient, unary } from "@switchyard/runtime";
import { type ManagedProcess, waitFor } from "@switchyard/testkit";
import { curl } from "../testing/curl.js";
import { type HttpStack, startHttpStack } from "../testing/http-stack.js";
import { openTls, readAll, statusOf } from "../testing/raw-client.js";
import { startTestUpstream, type TestUpstream } from "../testing/test-upstream.js";

const run = promisify(execFile);
const SITE = "replicas.switchyard.test";
const yardctlBin = join(import.meta.dirname, "../../../../packages/yardctl/bin/yardctl.js");

/** The access log lines a replica wrote so far for `path`. */
const served = (proc: ManagedProcess | undefined, path: string) =>
  (proc?.lines ?? []).filter((l) => typeof l !== "string" && l.msg === "access" && l.path === path).length;

describe("http: two replicas behind the edge, yardctl, SIGHUP reload, a renewed certificate, graceful drain", () => {
  let stack: HttpStack;
  let upstream: TestUpstream;
  const sites =
    (extra: Array<Record<string, unknown>> = []) =>
    () => ({
      sites: [{ domains: [SITE], upstreams: [upstream.address] }, ...extra],
    });
  const get = (path: string, site = SITE) =>
    curl([
      "--cacert",
      stack.caFile,
      "--resolve",
      `${site}:${stack.https}:127.0.0.1`,
      `https://${site}:${stack.https}${path}`,
    ]);

  let started = 0;
  /** At least `n` replicas running (a drain test stops one; tests run in any order). */
  const ensureReplicas = async (n: number) => {
    while (stack.replicas.length < n) await stack.startReplica(`http-extra-${++started}`);
  };

  before(async () => {
    upstream = await startTestUpstream("r");
    stack = await startHttpStack(sites(), {}, { replicas: 2 });
    await waitFor("the site's certificate", async () => (await get("/")).status === 200, 30_000, 250);
  });
  after(async () => {
    await stack?.stop();
    await upstream?.close();
  });

  it("the edge spreads connections over both replicas; each logs the requests it served", async () => {
    await ensureReplicas(2);
    const [a, b] = stack.replicas;
    const ca = await readFile(stack.caFile);
    const held: Array<Awaited<ReturnType<typeof openTls>>> = [];
    try {
      await waitFor(
        "both replicas to serve",
        async () => {
          // Connections kept open: the edge gives the next one to the replica holding fewer. A
          // replica started moments ago (a drain test may have replaced one) may not have the
          // site's certificate from the certs bucket yet and refuses the handshake: try again.
          let c: Awaited<ReturnType<typeof openTls>>;
          try {
            c = await openTls({ port: stack.https, servername: SITE, ca });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ECONNRESET") return false;
            throw err;
          }
          held.push(c);
          await exchange(c, `GET /spread HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
          return served(a?.process, "/spread") > 0 && served(b?.process, "/spread") > 0;
        },
        20_000,
        10,
      );
    } finally {
      for (const c of held) c.destroy();
    }
  });

  it("yardctl http sites and http upstreams show the running config and the upstream's health", async () => {
    const replica = stack.replicas[0];
    const yardctl = (...argv: string[]) =>
      run(process.execPath, [
        yardctlBin,
        ...argv,
        "--http",
        replica?.grpc ?? "",
        "--token-file",
        stack.edge.tokenFile,
      ]);
    const sitesOut = (await yardctl("http", "sites")).stdout;
    assert.match(
      sitesOut,
      new RegExp(`${SITE.replaceAll(".", "\\.")}\\s+${SITE.replaceAll(".", "\\.")}\\s+auto\\s+308`),
    );
    assert.match(sitesOut, new RegExp(`/ -> ${upstream.address}`));
    const upstreamsOut = (await yardctl("http", "upstreams", "--json")).stdout;
    const listed = JSON.parse(upstreamsOut) as {
      upstreams: Array<{ pool: string; address: string; healthy: boolean }>;
    };
    // (The reload test, in whatever order it runs, may have added a site of its own.)
    assert.deepEqual(
      listed.upstreams.filter((u) => u.pool === SITE).map((u) => [u.address, u.healthy]),
      [[upstream.address, true]],
    );
  });

  it("SIGHUP reloads the http section: a new site serves on the same processes; a broken file keeps the running config", async () => {
    const other = await startTestUpstream("reloaded");
    try {
      const newSite = "reloaded.switchyard.test";
      await stack.edge.writeConfig(
        currentConfig(stack, sites([{ domains: [newSite], upstreams: [other.address] }])),
      );
      // Each process reads the file again: the edge (routes), certs (the new name), the workers.
      for (const r of stack.replicas) r.process.child.kill("SIGHUP");
      stack.certs.process.child.kill("SIGHUP");
      stack.edge.process.child.kill("SIGHUP");
      await waitFor(
        "the new site to answer",
        async () => (await get("/", newSite)).body.toString() === "hello from reloaded\n",
        30_000,
        250,
      );
      assert.equal(stack.replicas[0]?.process.child.exitCode, null, "not restarted");
      // A broken http section: the reload fails and the running sites go on.
      await stack.edge.writeConfig({ ...currentConfig(stack, sites()), http: { sites: [] } });
      const replica = stack.replicas[0];
      replica?.process.child.kill("SIGHUP");
      await replica?.process.waitForLine(
        (l) => l.msg === "reload failed: keeping the running config",
        10_000,
      );
      await stack.edge.writeConfig(
        currentConfig(stack, sites([{ domains: [newSite], upstreams: [other.address] }])),
      );
      assert.equal((await get("/", newSite)).status, 200);
    } finally {
      await other.close();
    }
  });

  it("a certificate renewed by certs serves new handshakes with no restart, while requests keep flowing", async () => {
    const serial = async () => {
      const tls = await openTls({ port: stack.https, servername: SITE, ca: await readFile(stack.caFile) });
      const s = tls.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
      tls.destroy();
      return s;
    };
    const first = await serial();
    const admin = createGrpcClient(certsV1.CertsAdminClient, stack.certs.grpc, stack.edge.token);
    try {
      const renewed = await unary(admin, "renew", { name: SITE }, { deadlineMs: 20_000 });
      assert.equal(renewed.outcome, "issued");
      const next = renewed.certificate?.serial.toLowerCase() ?? "";
      assert.notEqual(next, first);
      let failures = 0;
      await waitFor(
        "new handshakes to present the renewed certificate",
        async () => {
          if ((await get("/")).status !== 200) failures++;
          return (await serial()) === next;
        },
        20_000,
        50,
      );
      assert.equal(failures, 0, "no request failed during the swap");
    } finally {
      admin.close();
    }
    for (const r of stack.replicas) assert.equal(r.process.child.exitCode, null);
  });

  it("drain: a replica told to stop finishes its in-flight request with Connection: close, then exits 0", async () => {
    await ensureReplicas(2);
    const replica = stack.replicas[1];
    assert.ok(replica);
    // A keep-alive connection on that replica, holding a slow request.
    let tls: Awaited<ReturnType<typeof openTls>> | undefined;
    // Connections that landed on the other replica stay open meanwhile: the edge gives the next
    // connection to the replica holding fewer.
    const others: Array<Awaited<ReturnType<typeof openTls>>> = [];
    const ca = await readFile(stack.caFile);
    await waitFor(
      "a connection on the replica to drain",
      async () => {
        const before = upstream.slow.length;
        const before2 = served(replica.process, "/probe");
        const total = () => stack.replicas.reduce((n, r) => n + served(r.process, "/probe"), 0);
        const before3 = total();
        const c = await openTls({ port: stack.https, servername: SITE, ca });
        await exchange(c, `GET /probe HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
        await waitFor("the access line", () => total() > before3, 5000, 10);
        if (served(replica.process, "/probe") > before2) {
          tls = c;
          return upstream.slow.length === before;
        }
        others.push(c);
        return false;
      },
      45_000,
      10,
    );
    for (const c of others) c.destroy();
    assert.ok(tls);
    const rest = readAll(tls);
    const slowBefore = upstream.slow.length;
    tls.write(`GET /slow HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
    await waitFor(
      "the upstream to hold the request",
      () => upstream.slow.length === slowBefore + 1,
      10_000,
      10,
    );
    const exit = replica.process.stop(20_000);
    await replica.process
      .waitForLine((l) => l.msg === "draining" || l.msg === "stopping", 10_000)
      .catch(() => undefined);
    upstream.slow[slowBefore]?.end("finished\n");
    const text = await rest;
    assert.equal(statusOf(text), 200, text);
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.match(text, /finished\n$/);
    assert.equal(await exit, 0);
    stack.replicas.splice(stack.replicas.indexOf(replica), 1);
    assert.equal((await get("/")).status, 200, "the other replica keeps serving");
  });

  it("drain over HTTP/2: the session gets GOAWAY, its open stream still completes, the replica exits 0", async () => {
    const replica = await stack.startReplica("http-c");
    const ca = await readFile(stack.caFile);
    const h2get = (session: http2.ClientHttp2Session, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ":path": path });
        let body = "";
        let status = 0;
        req.on("response", (h) => {
          status = Number(h[":status"]);
        });
        req.on("data", (d: Buffer) => {
          body += d.toString();
        });
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
      });
    let session: http2.ClientHttp2Session | undefined;
    const opened: http2.ClientHttp2Session[] = [];
    try {
      await waitFor(
        "an HTTP/2 session on the new replica",
        async () => {
          const s = http2.connect(`https://${SITE}:${stack.https}`, {
            createConnection: () =>
              tlsConnect({
                host: "127.0.0.1",
                port: stack.https,
                servername: SITE,
                ca,
                ALPNProtocols: ["h2"],
              }),
          });
          s.on("error", () => {});
          opened.push(s);
          const before = served(replica.process, "/h2probe");
          const total = () => stack.replicas.reduce((n, r) => n + served(r.process, "/h2probe"), 0);
          const before3 = total();
          await h2get(s, "/h2probe");
          await waitFor("the access line", () => total() > before3, 5000, 10);
          if (served(replica.process, "/h2probe") > before) session = s;
          return session !== undefined;
        },
        45_000,
        10,
      );
      assert.ok(session);
      const goaway = new Promise<void>((resolve) => session?.once("goaway", () => resolve()));
      const slowBefore = upstream.slow.length;
      const slow = h2get(session, "/slow");
      await waitFor(
        "the upstream to hold the stream",
        () => upstream.slow.length === slowBefore + 1,
        10_000,
        10,
      );
      const exit = replica.process.stop(20_000);
      await goaway;
      upstream.slow[slowBefore]?.end("finished over h2\n");
      assert.deepEqual(await slow, { status: 200, body: "finished over h2\n" });
      assert.equal(await exit, 0);
      stack.replicas.splice(stack.replicas.indexOf(replica), 1);
    } finally {
      for (const s of opened) s.destroy();
    }
  });
});

/** Writes a request on a kept-open connection and reads its whole (short, 200) response. */
function exchange(socket: Awaited<ReturnType<typeof openTls>>, request: string): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (d: Buffer) => {
      text += d.toString("latin1");
      // The body, whole: with a Content-Length, or chunked up to its last chunk.
      if (
        text.endsWith("hello from r\n") ||
        (text.includes("hello from r\n") && text.endsWith("\r\n0\r\n\r\n"))
      ) {
        socket.off("data", onData);
        resolve(text);
      }
    };
    socket.on("data", onData);
    socket.write(request);
  });
}

/** The stack's config file as written now, with the http section's sites replaced. */
function currentConfig(stack: HttpStack, http: () => Record<string, unknown>): Record<string, unknown> {
  return {
    nats: { servers: [stack.nats.url], credentialsFile: stack.nats.credentialsFile },
    certs: { httpPort: stack.http, directory: "internal", renewal: { checkIntervalMs: 500 } },
    http: { ports: { https: stack.https, http: stack.http }, ...http() },
  };
}
