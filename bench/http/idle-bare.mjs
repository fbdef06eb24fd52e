/**
 * bench/http/idle-bare.mjs: the bare-node reference for "memory per idle keep-alive TLS connection"
 * (issue 14). A plain node TLS server with no Switchyard code, and bench.mjs's idle client (one
 * `GET /1k` over HTTP/1.1 per TLS connection, then held open), in two processes; prints the
 * server's RSS, heapUsed and external growth per connection (after a forced GC on both sides).
 *
 *   node bench/http/idle-bare.mjs https 10000   # https.createServer
 *   node bench/http/idle-bare.mjs h2 10000      # http2.createSecureServer({ allowHTTP1: true })
 *   node bench/http/idle-bare.mjs wrap 10000    # net socket wrapped in a TLSSocket, then node:http (as the worker)
 *   node bench/http/idle-bare.mjs tls 10000     # bare-server.mjs's bare-tls: node:tls, no http parser
 *   BARE_NOREQ=1 node bench/http/idle-bare.mjs https 5000   # handshake only, no request
 *   BARE_BODY=0 node bench/http/idle-bare.mjs https 5000    # a response with no body
 *
 * The fd limit must be above the connection count (each process holds one end).
 */
import { execFileSync, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { env } from "node:process";
import { connect as tlsConnect } from "node:tls";

const [mode = "https", count = "3000"] = process.argv.slice(2);
const N = Number(count);
// BARE_BODY: the response body in bytes (1024, as bench.mjs's /1k).
const body = Buffer.alloc(Number(env.BARE_BODY ?? 1024), "x");

if (env.BARE_CHILD_DIR) {
  const tls = await import("node:tls");
  const net = await import("node:net");
  const http = await import("node:http");
  const https = await import("node:https");
  const http2 = await import("node:http2");
  const dir = env.BARE_CHILD_DIR;
  const key = readFileSync(join(dir, "key.pem"));
  const cert = readFileSync(join(dir, "cert.pem"));
  const handler = (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  };
  let server;
  if (mode === "https") server = https.createServer({ key, cert, keepAliveTimeout: 0 }, handler);
  else if (mode === "h2") server = http2.createSecureServer({ key, cert, allowHTTP1: true }, handler);
  else if (mode === "wrap") {
    const secureContext = tls.createSecureContext({ key, cert });
    const h1 = http.createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 }, handler);
    server = net.createServer((socket) => {
      const t = new tls.TLSSocket(socket, {
        isServer: true,
        ALPNProtocols: ["h2", "http/1.1"],
        secureContext,
      });
      t.once("secure", () => {
        t.secureConnecting = false;
        h1.emit("connection", t);
      });
      t.on("error", () => t.destroy());
    });
  } else if (mode === "tls") {
    const { createBareServers } = await import("./bare-server.mjs");
    server = (await createBareServers("bare-tls", { key, cert, body })).tls;
  } else throw new Error(`unknown mode ${mode} (https, h2, wrap, tls)`);
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("message", (m) => {
    if (m === "exit") process.exit(0);
    globalThis.gc();
    const u = process.memoryUsage();
    process.send({ mem: { rss: u.rss, heapUsed: u.heapUsed, external: u.external } });
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), "idle-bare-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  const child = fork(new URL(import.meta.url).pathname, [mode, count], {
    env: { ...env, BARE_CHILD_DIR: dir },
    execArgv: ["--expose-gc"],
  });
  const next = () => new Promise((r) => child.once("message", r));
  const { port } = await next();
  const mem = async () => {
    child.send("mem");
    return (await next()).mem;
  };
  const sockets = [];
  let ok = 0;
  // As bench.mjs's idleMemory: TLS, ALPN http/1.1, one request, held once 1 KB of answer is in.
  const open = () =>
    new Promise((res) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        rejectUnauthorized: false,
        ALPNProtocols: ["http/1.1"],
      });
      sockets.push(s);
      s.on("error", () => res());
      s.once("secureConnect", () => {
        if (env.BARE_NOREQ) {
          ok++;
          return res();
        }
        s.write("GET /1k HTTP/1.1\r\nHost: localhost\r\n\r\n");
      });
      let got = 0;
      s.on("data", (c) => {
        got += c.length;
        if (got >= body.length + 40 && got - c.length < body.length + 40) {
          ok++;
          res();
        }
      });
    });
  // Warm-up (200 connections, closed), so the baseline is a server that has served.
  for (let i = 0; i < 200; i++) await open();
  for (const s of sockets.splice(0)) s.destroy();
  ok = 0;
  await new Promise((r) => setTimeout(r, 500));
  const before = await mem();
  for (let i = 0; i < N; i += 200) await Promise.all(Array.from({ length: Math.min(200, N - i) }, open));
  await new Promise((r) => setTimeout(r, 1500));
  const after = await mem();
  // kB (1,000 bytes), as bench.mjs reports.
  const kb = (k) => ((after[k] - before[k]) / 1000 / Math.max(ok, 1)).toFixed(1);
  console.log(
    `${mode}${env.BARE_NOREQ ? " (handshake only)" : ""} ${ok} connections: KB per connection: ` +
      `RSS ${kb("rss")}, heapUsed ${kb("heapUsed")}, external ${kb("external")} ` +
      `(RSS ${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MiB)`,
  );
  for (const s of sockets) s.destroy();
  child.send("exit");
  rmSync(dir, { recursive: true, force: true });
}
