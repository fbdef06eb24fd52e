/** Test-only: a real HTTP/1.1 upstream that records every request that reaches it. */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { createSecureServer } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bytes: number;
  sha256: string;
  /** "1.1" or "2.0". */
  httpVersion?: string;
  /** TLS upstreams: which of `tlsConnections` carried it. */
  connection?: number;
}

/** A TLS connection the upstream accepted. */
export interface SeenTlsConnection {
  /** The SNI the proxy sent (false: none). */
  servername: string | false;
  /** The handshake resumed a session. */
  resumed: boolean;
  /** The ALPN protocol chosen (false: none). */
  alpn: string | false;
}

export interface TestUpstream {
  address: string;
  port: number;
  seen: SeenRequest[];
  /** /healthz answers this status. */
  health: number;
  /** SSE clients waiting for the next event (the test sends them one at a time). */
  sse: ServerResponse[];
  /** Responses to /slow, held open until the test ends them. */
  slow: ServerResponse[];
  /** Connections the upstream holds now. */
  connections: () => number;
  /** TLS upstreams: every TLS connection accepted, in order (`seen[].connection` indexes it). */
  tlsConnections: SeenTlsConnection[];
  close(): Promise<void>;
}

/** `n` bytes that are the same for the same seed: the test hashes what it expects. */
export function patternBytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The property of an accepted TLS socket holding its index in `tlsConnections`. */
const CONNECTION_ID = "switchyardConnectionId";

export interface TestUpstreamOptions {
  /**
   * Serve HTTPS with this certificate and key; `address` is then https://…. With `clientCa`, a
   * client certificate from that CA is required (mutual TLS); with `h2`, HTTP/2 is offered in ALPN
   * besides HTTP/1.1 (node:http2's secure server).
   */
  tls?: { certPem: string; keyPem: string; clientCa?: string; h2?: boolean };
}

/**
 * Routes: `/download?bytes=N&seed=S` (pattern bytes), `/upload` (answers the body's sha256 and
 * length as JSON), `/headers` (the request's headers as JSON), `/healthz` (status `health`),
 * `/sse` (an event stream the test feeds through `sse`), `/slow` (never answers), `/reset` (half a
 * response, then a reset), WebSocket echo on any path; anything else: 200 "hello from <name>".
 */
export async function startTestUpstream(
  name = "upstream",
  options: TestUpstreamOptions = {},
): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const upstream: TestUpstream = {
    address: "",
    port: 0,
    seen,
    health: 200,
    sse: [],
    slow: [],
    connections: () => sockets.size,
    tlsConnections: [],
    close: async () => {},
  };
  /** Which TLS connection a request came on: its socket is tagged (HTTP/2's proxy socket reads through). */
  const connectionOf = (req: import("node:http").IncomingMessage): number | undefined =>
    (req.socket as Socket & { [CONNECTION_ID]?: number })[CONNECTION_ID];
  const handler = (req: import("node:http").IncomingMessage, res: ServerResponse) => {
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on("end", () => {
      const digest = hash.digest("hex");
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname !== "/healthz")
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          bytes,
          sha256: digest,
          httpVersion: req.httpVersion,
          ...(options.tls ? { connection: connectionOf(req) ?? -1 } : {}),
        });
      switch (url.pathname) {
        case "/download": {
          const body = patternBytes(
            Number(url.searchParams.get("bytes") ?? 0),
            Number(url.searchParams.get("seed") ?? 1),
          );
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
          res.end(body);
          return;
        }
        case "/upload":
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ bytes, sha256: digest }));
          return;
        case "/headers":
          res.writeHead(200, {
            "content-type": "application/json",
            connection: "keep-alive, x-hop",
            "x-hop": "must not reach the client",
            "keep-alive": "timeout=5",
          });
          res.end(JSON.stringify(req.headers));
          return;
        case "/healthz":
          res.writeHead(upstream.health);
          res.end();
          return;
        case "/sse":
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          res.flushHeaders();
          upstream.sse.push(res);
          return;
        case "/slow":
          upstream.slow.push(res);
          return;
        case "/reset":
          res.writeHead(200, { "content-length": 1000 });
          res.write("x".repeat(100));
          setImmediate(() => res.socket?.destroy());
          return;
        default:
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(`hello from ${name}\n`);
      }
    });
  };
  const { tls } = options;
  const secure = tls && {
    cert: tls.certPem,
    key: tls.keyPem,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
  const server: Server = !secure
    ? createServer(handler)
    : tls.h2
      ? (createSecureServer({ ...secure, allowHTTP1: true }, handler as never) as unknown as Server)
      : createHttpsServer(secure, handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: TLSSocket) => {
    (s as TLSSocket & { [CONNECTION_ID]?: number })[CONNECTION_ID] = upstream.tlsConnections.length;
    upstream.tlsConnections.push({
      servername: (s as TLSSocket & { servername?: string | false }).servername ?? false,
      resumed: s.isSessionReused(),
      alpn: s.alpnProtocol ?? false,
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    seen.push({
      method: "GET",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bytes: 0,
      sha256: "",
    });
    ws.on("message", (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  upstream.port = port;
  upstream.address = options.tls ? `https://127.0.0.1:${port}` : `127.0.0.1:${port}`;
  upstream.close = async () => {
    for (const res of [...upstream.sse, ...upstream.slow]) res.destroy();
    wss.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return upstream;
}
