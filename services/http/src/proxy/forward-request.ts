import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import { Readable, type Writable } from "node:stream";
import { errors } from "undici";
import { RequestRefusedError, UpstreamError } from "../errors.js";
import type { Exchange } from "../front/exchange.js";
import type { Route } from "../sites/site-table.js";
import type { Upstream, UpstreamPool } from "../upstreams/upstream.js";
import { clientResponseHeaders } from "./forwarded-headers.js";

/** Methods a failed connect may be retried on (RFC 9110 9.2.2), when they carry no body. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Errors that mean the request never reached the upstream's application. */
const CONNECT_FAILURES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** What forwarding one request came to, for the access log and metrics. */
export interface ForwardOutcome {
  status: number;
  upstream: string | undefined;
  /** Time to the upstream's response head, ms. */
  upstreamMs: number | undefined;
  error?: string;
}

export interface ForwardOptions {
  route: Route;
  pool: UpstreamPool;
  path: string;
  headers: Record<string, string | string[]>;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  via: string;
  /** Applies the site's response header rules. */
  responseHeaders: (headers: IncomingHttpHeaders & Record<string, unknown>) => void;
  /** A connect to `upstream` failed (passive health, metrics). */
  connectFailed: (upstream: Upstream) => void;
}

/** What undici accepts as a request's signal: an emitter of 'abort' with `aborted` (no DOMException). */
class AbortSignalEmitter extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    // Nobody listens once undici is done with the request (it removes its listener): nothing to do.
    if (this.listenerCount("abort") > 0) this.emit("abort");
  }
}

/** The request body, counted: over `max` bytes it fails with a 413 refusal (and nothing more is sent). */
async function* limitedBody(body: Exchange["body"], max: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new RequestRefusedError(413, `request body over ${max} bytes`);
    yield chunk;
  }
}

/**
 * Streams `src` into `dst` (pipe: backpressure both ways) and settles when `dst` has finished, or
 * with the first error of either, or when `dst` closes early (the client went away); `src` is
 * destroyed then (the upstream connection is given up). stream.pipeline does the same, but builds an
 * AbortController per call and aborts it (a DOMException with a stack) at every finish.
 */
export function pump(src: Readable, dst: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      src.off("error", finish);
      src.off("close", onSourceClose);
      dst.off("error", finish);
      dst.off("finish", onFinish);
      dst.off("close", onClose);
      if (err) {
        src.unpipe(dst);
        src.destroy();
        reject(err);
      } else resolve();
    };
    const onFinish = () => finish();
    // The upstream's body ended without its end (destroyed with no error): the response is cut.
    const onSourceClose = () => {
      if (!src.readableEnded) finish(new Error("the upstream's response ended early"));
    };
    const onClose = () =>
      finish(dst.writableFinished ? undefined : new Error("the client's side closed early"));
    src.on("error", finish);
    src.on("close", onSourceClose);
    dst.on("error", finish);
    dst.on("finish", onFinish);
    dst.on("close", onClose);
    src.pipe(dst);
  });
}

export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    err instanceof errors.ConnectTimeoutError ||
    (code !== undefined && CONNECT_FAILURES.has(code)) ||
    (code === "ECONNRESET" && (err as { syscall?: string }).syscall === "connect")
  );
}

/**
 * Sends the exchange's request to one of the pool's upstreams (least outstanding requests) and
 * streams the response back, with backpressure both ways. A refused or timed-out connect marks the
 * upstream down and, for an idempotent request without a body, tries the next one. No upstream:
 * 502; no response head within upstreamTimeoutMs: 504; a reset after the head: the client's
 * exchange is reset too (its response cannot be completed honestly).
 */
export async function forwardRequest(
  ex: Exchange,
  options: ForwardOptions,
  outcome: Partial<ForwardOutcome> = {},
): Promise<ForwardOutcome> {
  const { pool } = options;
  const retryable = !ex.hasBody && IDEMPOTENT.has(ex.method);
  const tried = new Set<Upstream>();
  // undici takes an EventEmitter as the signal: an AbortController would cost a DOMException (with
  // its stack) per request, since the client's side closes after every response.
  const signal = new AbortSignalEmitter();
  let clientGone = false;
  ex.onClose(() => {
    clientGone = true;
    signal.abort();
  });
  for (;;) {
    const upstream = pool.pick(tried);
    if (!upstream) {
      const error = tried.size === 0 ? "no healthy upstream" : "every upstream refused the connection";
      throw new UpstreamError(undefined, 502, error);
    }
    tried.add(upstream);
    upstream.inFlight++;
    outcome.upstream = upstream.address;
    const began = performance.now();
    try {
      const res = await upstream.client.request({
        method: ex.method,
        path: options.path,
        headers: options.headers,
        body: ex.hasBody
          ? Readable.from(limitedBody(ex.body, options.maxBodyBytes), { objectMode: false })
          : null,
        signal,
        headersTimeout: options.upstreamTimeoutMs,
        // Streams (SSE, long downloads) may pause as long as they like; the client's side bounds them.
        bodyTimeout: 0,
      });
      const upstreamMs = performance.now() - began;
      outcome.upstreamMs = upstreamMs;
      const headers = clientResponseHeaders(res.headers, options.via);
      options.responseHeaders(headers as IncomingHttpHeaders & Record<string, unknown>);
      const out = ex.start(res.statusCode, headers);
      try {
        await pump(res.body, out);
      } catch (err) {
        if (!clientGone) ex.abort();
        return { status: res.statusCode, upstream: upstream.address, upstreamMs, error: String(err) };
      } finally {
        upstream.inFlight--;
      }
      return { status: res.statusCode, upstream: upstream.address, upstreamMs };
    } catch (err) {
      if (ex.started) throw err;
      upstream.inFlight--;
      if (err instanceof RequestRefusedError) throw err;
      if (clientGone) throw new UpstreamError(upstream.address, 502, "client went away", { cause: err });
      if (err instanceof errors.HeadersTimeoutError) {
        throw new UpstreamError(upstream.address, 504, "upstream did not answer in time", { cause: err });
      }
      if (isConnectFailure(err)) {
        upstream.markConnectFailure();
        options.connectFailed(upstream);
        if (retryable) continue;
        throw new UpstreamError(upstream.address, 502, "cannot connect to the upstream", { cause: err });
      }
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof RequestRefusedError) throw cause;
      throw new UpstreamError(upstream.address, 502, "the upstream failed", { cause: err });
    }
  }
}
