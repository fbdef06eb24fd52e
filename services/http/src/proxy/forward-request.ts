import type { IncomingHttpHeaders } from "node:http";
import { Readable, type Writable } from "node:stream";
import { type Dispatcher, errors } from "undici";
import { RequestRefusedError, UpstreamError, UpstreamTlsError } from "../errors.js";
import type { Exchange } from "../front/exchange.js";
import type { Route } from "../sites/site-table.js";
import type { TlsFailure } from "../upstreams/tls-failure.js";
import type { Upstream, UpstreamPool } from "../upstreams/upstream.js";
import { clientResponseHeaders, clientTrailers } from "./forwarded-headers.js";

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
  /** TLS to `upstream` failed (its certificate or the handshake): logged, counted. */
  tlsFailed: (upstream: Upstream, failure: TlsFailure) => void;
}

/** How one attempt ended once the response head went to the client. */
interface Relayed {
  status: number;
  upstreamMs: number;
  error?: string;
}

const noop = () => {};

/** The upstream's response head as fields for the client (raw latin1 bytes kept, lists for repeats). */
function parseRawHeaders(raw: Array<Buffer | string>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i] as Buffer | string;
    const val = raw[i + 1] as Buffer | string;
    const name = (typeof key === "string" ? key : key.toString("latin1")).toLowerCase();
    const value = typeof val === "string" ? val : val.toString("latin1");
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [previous, value];
  }
  return headers;
}

/**
 * One attempt at an upstream, as a raw undici dispatch handler: the response head goes to the
 * client's exchange as soon as it arrives and each body chunk is written straight to it, undici
 * pausing while the client's side is full (backpressure) until it drains. undici's request() would
 * add, per request, an AsyncResource, a promise and a Readable for the body to pipe from.
 * Before the head: a failure rejects (the caller retries, or answers 502/504). After it: the
 * client's exchange is reset unless the client went away, and the attempt resolves with the error.
 */
class ResponseRelay {
  private abortUpstream: ((reason: Error) => void) | undefined;
  private reason: Error | undefined;
  private out: Writable | undefined;
  private status = 0;
  private upstreamMs = 0;
  /** The upstream's response is complete (or failed): nothing more to abort. */
  private over = false;
  private settled = false;

  constructor(
    private readonly ex: Exchange,
    private readonly options: ForwardOptions,
    private readonly began: number,
    private readonly body: Readable | null,
    private readonly outcome: Partial<ForwardOutcome>,
    private readonly resolve: (r: Relayed) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  /** The client went away: the upstream request is given up, now or as soon as it starts. */
  cancel(): void {
    if (this.settled) return;
    if (this.over) {
      // The upstream was done, the client's side closed before its last bytes were out.
      this.settle({
        status: this.status,
        upstreamMs: this.upstreamMs,
        error: "the client's side closed early",
      });
      return;
    }
    this.reason ??= new errors.RequestAbortedError();
    this.abortUpstream?.(this.reason);
  }

  private settle(r: Relayed): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(r);
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.reason) abort(this.reason);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Array<Buffer | string>, resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: not relayed
    this.upstreamMs = performance.now() - this.began;
    // Now, for the access line: the client's side may close before this attempt settles.
    this.outcome.upstreamMs = this.upstreamMs;
    this.status = statusCode;
    const headers = clientResponseHeaders(parseRawHeaders(rawHeaders), this.options.via);
    this.options.responseHeaders(headers as IncomingHttpHeaders & Record<string, unknown>);
    const out = this.ex.start(statusCode, headers);
    this.out = out;
    out.on("drain", resume);
    out.on("error", () => this.cancel());
    out.once("finish", () => this.settle({ status: this.status, upstreamMs: this.upstreamMs }));
    return true;
  }

  onData(chunk: Buffer): boolean {
    // false: undici pauses reading the upstream until 'drain' resumes it.
    return this.ex.write(chunk);
  }

  onComplete(trailers?: unknown): void {
    this.over = true;
    this.ex.finish(clientTrailers(trailers));
  }

  onError(err: Error): void {
    this.over = true;
    if (this.body && !this.body.destroyed) {
      this.body.on("error", noop);
      this.body.destroy(err);
    }
    if (!this.out) {
      this.settled = true;
      this.reject(err);
      return;
    }
    if (!this.reason) this.ex.abort();
    this.settle({ status: this.status, upstreamMs: this.upstreamMs, error: String(err) });
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
  let relay: ResponseRelay | undefined;
  let clientGone = false;
  /** The last TLS failure: when every upstream failed, the client learns it was TLS. */
  let tlsError: UpstreamTlsError | undefined;
  ex.onClose(() => {
    clientGone = true;
    relay?.cancel();
  });
  for (;;) {
    const upstream = pool.pick(tried);
    if (!upstream) {
      if (tlsError) throw tlsError;
      const error = tried.size === 0 ? "no healthy upstream" : "every upstream refused the connection";
      throw new UpstreamError(undefined, 502, error);
    }
    tried.add(upstream);
    upstream.inFlight++;
    outcome.upstream = upstream.address;
    const began = performance.now();
    const body = ex.hasBody
      ? Readable.from(limitedBody(ex.body, options.maxBodyBytes), { objectMode: false })
      : null;
    try {
      const relayed = await new Promise<Relayed>((resolve, reject) => {
        relay = new ResponseRelay(ex, options, began, body, outcome, resolve, reject);
        if (clientGone) relay.cancel();
        upstream.client.dispatch(
          {
            method: ex.method as Dispatcher.HttpMethod,
            path: options.path,
            headers: options.headers,
            ...(upstream.servername ? { servername: upstream.servername } : {}),
            body,
            headersTimeout: options.upstreamTimeoutMs,
            // Streams (SSE, long downloads) may pause as long as they like; the client's side bounds them.
            bodyTimeout: 0,
          },
          relay as unknown as Dispatcher.DispatchHandler,
        );
      });
      upstream.inFlight--;
      outcome.upstreamMs = relayed.upstreamMs;
      return {
        status: relayed.status,
        upstream: upstream.address,
        upstreamMs: relayed.upstreamMs,
        ...(relayed.error ? { error: relayed.error } : {}),
      };
    } catch (err) {
      if (ex.started) throw err;
      upstream.inFlight--;
      if (err instanceof RequestRefusedError) throw err;
      if (clientGone) throw new UpstreamError(upstream.address, 502, "client went away", { cause: err });
      if (err instanceof errors.HeadersTimeoutError) {
        throw new UpstreamError(upstream.address, 504, "upstream did not answer in time", { cause: err });
      }
      const tlsFailure = upstream.tlsFailureOf(err);
      if (tlsFailure) {
        // Not a passive mark: a refused certificate is no passing fault (an active check, failing
        // the same way, takes the upstream out), and every client gets the same exact answer.
        options.tlsFailed(upstream, tlsFailure);
        tlsError = new UpstreamTlsError(upstream.address, tlsFailure, { cause: err });
        if (retryable) continue;
        throw tlsError;
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
