/**
 * bench/http/bare-server.mjs: node's own floor under the http worker, for bench.mjs's cost ladder
 * (issue 14: "where a goal is missed, write down where the time goes"). No Switchyard code: each mode
 * adds one layer of what the worker does per connection, with the worker's TLS settings (TLS 1.2 at
 * least, its TLS 1.2 ciphers, node's TLS 1.3 suites and curves, ALPN, one SecureContext):
 *
 *   bare-tls    node:tls server; a fixed HTTP/1.1 response written by hand (no http parser)
 *   bare-http   node:https server (node's http parser and ServerResponse); the same fixed response
 *   bare-proxy  node:https server + an undici Pool (the worker's pool options) to the upstream,
 *               head and body relayed through a raw dispatch handler (as the worker does), nothing else
 *
 * The fixed response is what the bench's upstream answers in size: 100 KB for /100k, else 1 KB.
 * Each mode listens on a TLS port and a plain one (the same handler without TLS), and answers
 * keep-alive requests; `Connection: close` closes after the response (the handshake row).
 *
 *   node bench/http/bare-server.mjs bare-tls --cert site.pem --key site.key --tls 8443 --plain 8080
 *   node bench/http/bare-server.mjs bare-proxy ... --upstream 127.0.0.1:8081
 *
 * Prints one JSON line when listening; at SIGTERM one with its counts (TLS connections, how many
 * resumed a session, requests), then exits.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

/** The worker's TLS 1.2 cipher list (services/http/src/tls/terminate-tls.ts), from its build. */
async function workerCiphers() {
  const url = pathToFileURL(join(root, "services/http/dist/tls/terminate-tls.js")).href;
  return (await import(url)).TLS12_CIPHERS;
}

const KB1 = Buffer.alloc(1024, "x");
const KB100 = Buffer.alloc(100 * 1024, "x");

/**
 * The TLS and plain servers of one mode (not listening yet). `body`: the answer to any path but
 * /100k (1 KB); `upstream`: "host:port" (bare-proxy only).
 */
export async function createBareServers(mode, { key, cert, upstream, body = KB1 }) {
  const stats = { connections: 0, resumed: 0, requests: 0 };
  const bodyFor = (path) => (path === "/100k" ? KB100 : body);
  // As the worker: TLS 1.2 at least with its ciphers; TLS 1.3 suites and the curves are node's. A
  // tls.Server makes one SecureContext from these and shares it (as the worker's base context).
  const tlsOptions = {
    key,
    cert,
    minVersion: "TLSv1.2",
    ciphers: await workerCiphers(),
    ALPNProtocols: ["http/1.1"], // the bare servers speak HTTP/1.1 only (the worker offers h2 too)
  };
  const onSecure = (socket) => {
    stats.connections++;
    if (socket.isSessionReused()) stats.resumed++;
  };

  if (mode === "bare-tls") {
    // HTTP/1.1 by hand: each request head (GET, no body) answered with a prebuilt response.
    const heads = new Map();
    const response = (path, close) => {
      const k = `${path === "/100k" ? "/100k" : "/"} ${close}`;
      let r = heads.get(k);
      if (!r) {
        const b = bodyFor(path);
        const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${b.length}\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
        r = Buffer.concat([Buffer.from(head, "latin1"), b]);
        heads.set(k, r);
      }
      return r;
    };
    const serve = (socket) => {
      let pending = "";
      socket.on("data", (chunk) => {
        pending += chunk.toString("latin1");
        let end = pending.indexOf("\r\n\r\n");
        while (end >= 0) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          stats.requests++;
          const path = head.slice(head.indexOf(" ") + 1, head.indexOf(" ", head.indexOf(" ") + 1));
          const close = /\r\nconnection:\s*close/i.test(head);
          socket.write(response(path, close));
          if (close) {
            socket.end();
            return;
          }
          end = pending.indexOf("\r\n\r\n");
        }
        if (pending.length > 16_384) socket.destroy(); // no head that long here
      });
      socket.on("error", () => socket.destroy());
    };
    const tls = createTlsServer(tlsOptions, (socket) => {
      onSecure(socket);
      serve(socket);
    });
    tls.on("tlsClientError", () => {});
    return { stats, tls, plain: createNetServer(serve), close: () => {} };
  }

  let handler;
  let close = () => {};
  if (mode === "bare-http") {
    handler = (req, res) => {
      stats.requests++;
      const b = bodyFor(req.url);
      res.writeHead(200, { "content-type": "text/plain", "content-length": b.length });
      res.end(b);
    };
  } else if (mode === "bare-proxy") {
    if (!upstream) throw new Error("bare-proxy needs --upstream host:port");
    const { Pool } = await import("undici");
    // The worker's pool options (services/http/src/upstreams/upstream.ts).
    const pool = new Pool(`http://${upstream}`, {
      connections: 256,
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 60_000,
      pipelining: 1,
    });
    close = () => pool.destroy();
    handler = (req, res) => {
      stats.requests++;
      const headers = { host: req.headers.host ?? upstream };
      pool.dispatch(
        { origin: `http://${upstream}`, path: req.url, method: req.method, headers },
        {
          onConnect(abort) {
            res.once("close", () => {
              if (!res.writableFinished) abort(new Error("client went away"));
            });
          },
          onHeaders(status, raw, resume) {
            const h = {};
            for (let i = 0; i < raw.length; i += 2) {
              const name = raw[i].toString("latin1").toLowerCase();
              if (name !== "connection" && name !== "keep-alive") h[name] = raw[i + 1].toString("latin1");
            }
            res.writeHead(status, h);
            res.on("drain", resume);
            return true;
          },
          onData(chunk) {
            return res.write(chunk);
          },
          onComplete() {
            res.end();
          },
          onError(err) {
            if (res.headersSent) res.destroy(err);
            else {
              res.writeHead(502, { "content-type": "text/plain" });
              res.end("bad gateway\n");
            }
          },
        },
      );
    };
  } else throw new Error(`unknown mode ${mode} (bare-tls, bare-http, bare-proxy)`);
  // No idle deadline (keepAliveTimeout 0), as the idle-memory row holds connections open.
  const httpOptions = { keepAliveTimeout: 0 };
  const tls = createHttpsServer({ ...tlsOptions, ...httpOptions }, handler);
  tls.on("secureConnection", onSecure);
  tls.on("tlsClientError", () => {});
  return { stats, tls, plain: createHttpServer(httpOptions, handler), close };
}

const listen = (server, port) =>
  new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(port, "127.0.0.1", () => res(server.address().port));
  });

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      tls: { type: "string", default: "0" },
      plain: { type: "string", default: "0" },
      upstream: { type: "string" },
    },
  });
  const mode = positionals[0];
  if (!mode || !values.cert || !values.key) {
    console.error(
      "usage: bare-server.mjs <bare-tls|bare-http|bare-proxy> --cert F --key F [--tls P --plain P --upstream H:P]",
    );
    process.exit(2);
  }
  const servers = await createBareServers(mode, {
    key: readFileSync(values.key),
    cert: readFileSync(values.cert),
    upstream: values.upstream,
  });
  const tls = await listen(servers.tls, Number(values.tls));
  const plain = await listen(servers.plain, Number(values.plain));
  console.log(JSON.stringify({ msg: "listening", mode, pid: process.pid, tls, plain }));
  process.once("SIGTERM", () => {
    console.log(JSON.stringify({ msg: "stopping", mode, ...servers.stats }));
    servers.close();
    process.exit(0);
  });
}
