import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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

/** The request body, counted: over `max` bytes it fails with a 413 refusal (and nothing more is sent). */
async function* limitedBody(body: Exchange["body"], max: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new RequestRefusedError(413, `request body over ${max} bytes`);
    yield chunk;
  }
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
  const abort = new AbortController();
  let clientGone = false;
  ex.onClose(() => {
    clientGone = true;
    abort.abort();
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
        signal: abort.signal,
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
        await pipeline(res.body, out);
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
