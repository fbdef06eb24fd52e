import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { constants, type ServerHttp2Stream } from "node:http2";
import type { Readable, Writable } from "node:stream";
import { acceptsTrailers } from "../proxy/forwarded-headers.js";

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
  /**
   * Sends the response head; the body goes through `write` (counted in bytesOut), and the returned
   * stream is where it ends and where 'drain', 'error' and 'finish' come from.
   */
  start(status: number, headers: OutgoingHttpHeaders): Writable;
  /** A chunk of the response body (after start); false: wait for the stream's 'drain'. */
  write(chunk: Buffer): boolean;
  /**
   * Ends the response body (after start). `trailers` reach an HTTP/2 client that said TE: trailers;
   * HTTP/1.1 clients get none (their head went out without a Trailer field).
   */
  finish(trailers?: OutgoingHttpHeaders): void;
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

/**
 * Response heads waiting for the next event-loop turn (see Http1Exchange.start): one setImmediate per
 * turn for all of them, not one per response.
 */
let unflushed: Http1Exchange[] = [];

function flushLoneHeads(): void {
  const heads = unflushed;
  unflushed = [];
  for (const ex of heads) ex.flushLoneHead();
}

/** HTTP/1.1: a request and its response from node:http. */
class Http1Exchange implements Exchange {
  readonly protocol = "1.1" as const;
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
  readonly hasBody: boolean;
  readonly contentLength: number | undefined;
  bytesOut = 0;
  status = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const { headers } = req;
    const te = headers["transfer-encoding"];
    const length = headers["content-length"];
    this.method = req.method ?? "GET";
    this.path = req.url ?? "/";
    this.host = headers.host;
    this.headers = headers;
    this.body = req;
    this.contentLength = length === undefined ? undefined : Number(length);
    this.hasBody = te !== undefined || (this.contentLength ?? 0) > 0;
  }

  get started(): boolean {
    return this.res.headersSent;
  }

  reply(status: number, body: string, headers?: OutgoingHttpHeaders, close?: boolean): void {
    const { res } = this;
    if (res.headersSent) return;
    this.bytesOut += Buffer.byteLength(body);
    this.status = status;
    res.writeHead(status, textHeaders(body, close ? { ...headers, connection: "close" } : headers));
    res.end(this.method === "HEAD" ? undefined : body);
  }

  start(status: number, headers: OutgoingHttpHeaders): Writable {
    this.status = status;
    this.res.writeHead(status, headers);
    // The head goes out with the first body chunk when that is at hand (one write, not two); a
    // stream that has none yet (SSE) gets its head alone, after this turn of the event loop.
    if (unflushed.push(this) === 1) setImmediate(flushLoneHeads);
    return this.res;
  }

  /** After the turn that started the response: a head still waiting for its first body byte goes alone. */
  flushLoneHead(): void {
    const { res } = this;
    if (this.bytesOut === 0 && !res.writableEnded && !res.destroyed) res.flushHeaders();
  }

  write(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    return this.res.write(chunk);
  }

  finish(): void {
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
    this.req.socket.destroy();
  }

  onClose(f: () => void): void {
    this.res.once("close", f);
  }
}

export function http1Exchange(req: IncomingMessage, res: ServerResponse): Exchange {
  return new Http1Exchange(req, res);
}

/** HTTP/2: one stream and its request headers. */
export function http2Exchange(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Exchange {
  const length = headers["content-length"];
  const contentLength = length === undefined ? undefined : Number(length);
  let bytesOut = 0;
  let sent = 0;
  const method = String(headers[":method"] ?? "GET");
  // A client that accepts trailers (gRPC) gets the upstream's: the stream waits for them after its
  // last DATA frame, and ends with them (or an empty trailer section when the upstream sent none).
  const trailing = acceptsTrailers(headers.te);
  let trailers: OutgoingHttpHeaders | undefined;
  /**
   * For such a client the head waits for the first body byte or the end: a response that is a head
   * alone (gRPC's "trailers-only" error) then goes out as one HEADERS frame that ends the stream,
   * as the upstream sent it; grpc-status would not be read from a head followed by trailers.
   */
  let head: OutgoingHttpHeaders | undefined;
  const sendHead = (endStream: boolean) => {
    const h = head as OutgoingHttpHeaders;
    head = undefined;
    stream.respond(h, endStream ? { endStream: true } : { waitForTrailers: true });
  };
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
      return stream.headersSent || head !== undefined;
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
      if (!trailing) {
        stream.respond({ ":status": status, ...extra });
        return stream;
      }
      head = { ":status": status, ...extra };
      stream.once("wantTrailers", () => {
        try {
          stream.sendTrailers(trailers ?? {});
        } catch {
          // A field node refuses in a trailer section: the response cannot end honestly.
          if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        }
      });
      return stream;
    },
    write(chunk) {
      bytesOut += chunk.length;
      if (head) sendHead(false);
      return stream.write(chunk);
    },
    finish(upstreamTrailers) {
      trailers = upstreamTrailers;
      if (head) {
        sendHead(upstreamTrailers === undefined);
        if (upstreamTrailers === undefined) return;
      }
      stream.end();
    },
    abort() {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    },
    onClose(f) {
      stream.once("close", f);
    },
  };
}
