import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { constants, type ServerHttp2Stream } from "node:http2";
import type { Readable, Writable } from "node:stream";

/** The client's side of one request, the same for HTTP/1.1 and HTTP/2: what the proxy works on. */
export interface Exchange {
  protocol: "1.1" | "2";
  method: string;
  /** The request target in origin form (path and query). */
  path: string;
  /** Host (HTTP/1.1) or :authority (HTTP/2), as sent. */
  host: string | undefined;
  headers: IncomingHttpHeaders;
  /** The request body as it arrives (backpressure: read it as fast as the upstream takes it). */
  body: Readable;
  /** True when a body follows the head (Content-Length > 0, chunked, or an HTTP/2 stream left open). */
  hasBody: boolean;
  contentLength: number | undefined;
  /** True once a response head went out: after that, a failure can only reset. */
  readonly started: boolean;
  /** A complete short response (text/plain); `close`: the request body is left unread, so end there. */
  reply(status: number, body: string, headers?: OutgoingHttpHeaders, close?: boolean): void;
  /** Sends the response head; the body goes to the returned stream. */
  start(status: number, headers: OutgoingHttpHeaders): Writable;
  /** Ends the exchange abruptly (HTTP/1.1: the connection; HTTP/2: RST_STREAM). */
  abort(): void;
  /** Runs once, when the exchange is over however it ended. */
  onClose(f: () => void): void;
  /** Bytes of response body written so far. */
  readonly bytesOut: number;
  /** The status sent (0 until a response head went out). */
  readonly status: number;
}

function textHeaders(body: string, headers: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return {
    ...headers,
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  };
}

/** HTTP/1.1: a request and its response from node:http. */
export function http1Exchange(req: IncomingMessage, res: ServerResponse): Exchange {
  const te = req.headers["transfer-encoding"];
  const length = req.headers["content-length"];
  const contentLength = length === undefined ? undefined : Number(length);
  let bytesOut = 0;
  let sent = 0;
  return {
    protocol: "1.1",
    method: req.method ?? "GET",
    path: req.url ?? "/",
    host: req.headers.host,
    headers: req.headers,
    body: req,
    hasBody: te !== undefined || (contentLength ?? 0) > 0,
    contentLength,
    get started() {
      return res.headersSent;
    },
    get bytesOut() {
      return bytesOut;
    },
    get status() {
      return sent;
    },
    reply(status, body, headers, close) {
      if (res.headersSent) return;
      bytesOut += Buffer.byteLength(body);
      sent = status;
      res.writeHead(status, textHeaders(body, close ? { ...headers, connection: "close" } : headers));
      res.end(req.method === "HEAD" ? undefined : body);
    },
    start(status, headers) {
      sent = status;
      res.writeHead(status, headers);
      // The head goes out with the first body chunk when that is at hand (one write, not two); a
      // stream that has none yet (SSE) gets its head alone, after this turn of the event loop.
      setImmediate(() => {
        if (bytesOut === 0 && !res.writableEnded && !res.destroyed) res.flushHeaders();
      });
      const write = res.write.bind(res);
      res.write = ((chunk: Buffer, ...rest: never[]) => {
        bytesOut += chunk.length;
        return write(chunk, ...rest);
      }) as typeof res.write;
      return res;
    },
    abort() {
      res.destroy();
      req.socket.destroy();
    },
    onClose(f) {
      res.once("close", f);
    },
  };
}

/** HTTP/2: one stream and its request headers. */
export function http2Exchange(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Exchange {
  const length = headers["content-length"];
  const contentLength = length === undefined ? undefined : Number(length);
  let bytesOut = 0;
  let sent = 0;
  const method = String(headers[":method"] ?? "GET");
  return {
    protocol: "2",
    method,
    path: String(headers[":path"] ?? "/"),
    host: (headers[":authority"] as string | undefined) ?? headers.host,
    headers,
    body: stream,
    hasBody: !stream.readableEnded && !stream.endAfterHeaders,
    contentLength,
    get started() {
      return stream.headersSent;
    },
    get bytesOut() {
      return bytesOut;
    },
    get status() {
      return sent;
    },
    reply(status, body, extra, close) {
      if (stream.headersSent || stream.destroyed) return;
      bytesOut += Buffer.byteLength(body);
      sent = status;
      stream.respond({ ":status": status, ...textHeaders(body, extra) });
      stream.end(method === "HEAD" ? undefined : body);
      // A body we refused is still coming: reset the rest once the answer is out (RFC 9113 8.1).
      if (close && !stream.readableEnded)
        stream.once("finish", () => stream.close(constants.NGHTTP2_NO_ERROR));
    },
    start(status, extra) {
      sent = status;
      stream.respond({ ":status": status, ...extra });
      const write = stream.write.bind(stream);
      stream.write = ((chunk: Buffer, ...rest: never[]) => {
        bytesOut += chunk.length;
        return write(chunk, ...rest);
      }) as typeof stream.write;
      return stream;
    },
    abort() {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    },
    onClose(f) {
      stream.once("close", f);
    },
  };
}
