import type { Logger } from "@switchyard/runtime";
import { HttpError, RequestRefusedError, UpstreamError, UpstreamTlsError } from "../errors.js";
import type { Exchange } from "../front/exchange.js";
import type { HttpMetrics } from "../metrics.js";
import { applyHeaderRules } from "../sites/header-rules.js";
import { routeFor, type Site, type SiteTable } from "../sites/site-table.js";
import type { TlsFailure } from "../upstreams/tls-failure.js";
import type { Upstream, UpstreamPool } from "../upstreams/upstream.js";
import { forwardRequest } from "./forward-request.js";
import { upstreamRequestHeaders } from "./forwarded-headers.js";

/** The connection a request came on: who the client is (from the edge's handoff) and how. */
export interface ConnectionFacts {
  id: number;
  address: string;
  secure: boolean;
  /** The TLS server name the client asked for (the edge routed on it). */
  sni?: string | undefined;
  /** Draining: answer with Connection: close (HTTP/1.1). */
  draining: boolean;
}

/**
 * Where access lines go: a pino Logger, or main.ts's buffered logger, whose `info` writes the same
 * line without pino's generic serializer (fields are plain JSON values).
 */
export interface AccessLog {
  info(fields: Record<string, unknown>, msg: string): void;
}

/** What a request handler reads, current at each request (a reload swaps it). */
export interface RequestContext {
  sites: SiteTable;
  pools: ReadonlyMap<string, UpstreamPool>;
  via: string;
  httpsPort: number;
  metrics: HttpMetrics;
  logger: Logger;
  /** Where the access lines go (buffered: one line per request). */
  accessLog: AccessLog;
  connectFailed(upstream: Upstream): void;
  tlsFailed(upstream: Upstream, failure: TlsFailure): void;
}

/** The https URL for a plain request: the same host and target on the https port. */
function httpsLocation(host: string, path: string, port: number): string {
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return `https://${name}${port === 443 ? "" : `:${port}`}${path}`;
}

/**
 * One request, start to end: finds the site by Host (421 when none), redirects plain HTTP (308),
 * checks the body size (413) and basic auth (401), forwards, answers 502/504 when the upstream
 * fails, and writes the access log line and metrics once the exchange is over.
 */
export async function handleRequest(ex: Exchange, conn: ConnectionFacts, ctx: RequestContext): Promise<void> {
  const began = performance.now();
  let site: Site | undefined;
  /** Filled in as forwarding goes: the access log line is written when the client's side closes. */
  const outcome: { upstream?: string; upstreamMs?: number } = {};
  let note: string | undefined;
  ex.onClose(() => {
    const ms = performance.now() - began;
    const name = site?.name ?? "(none)";
    const { status } = ex;
    ctx.metrics.request(name, status, ms / 1000);
    ctx.accessLog.info(
      {
        conn: conn.id,
        client: conn.address,
        proto: ex.protocol,
        site: name,
        method: ex.method,
        path: ex.path,
        status,
        bytesOut: ex.bytesOut,
        upstream: outcome.upstream,
        upstreamMs: outcome.upstreamMs === undefined ? undefined : Math.round(outcome.upstreamMs),
        ms: Math.round(ms),
        ...(note ? { note } : {}),
      },
      "access",
    );
  });
  const answer = (code: number, body: string, headers?: Record<string, string>, close?: boolean) => {
    ex.reply(code, `${body}\n`, headers, close);
  };
  try {
    site = ctx.sites.find(ex.host);
    if (!site) return answer(421, "421 no site is served under this name here");
    // The certificate was chosen by SNI: a Host of another site on that connection is misdirected.
    if (conn.sni !== undefined && ctx.sites.find(conn.sni) !== site)
      return answer(421, "421 this connection is for another site");
    if (!conn.secure && site.redirectHttp) {
      return answer(308, "308 use https", {
        location: httpsLocation(ex.host ?? site.name, ex.path, ctx.httpsPort),
      });
    }
    if (ex.contentLength !== undefined && ex.contentLength > site.limits.maxBodyBytes) {
      throw new RequestRefusedError(
        413,
        `content-length ${ex.contentLength} over ${site.limits.maxBodyBytes}`,
      );
    }
    if (site.auth && !(await site.auth.check(ex.headers.authorization))) {
      return answer(401, "401 authentication required", { "www-authenticate": site.auth.challenge });
    }
    const route = routeFor(site, ex.path);
    const pool = ctx.pools.get(route.pool);
    if (!pool) throw new UpstreamError(undefined, 502, `no upstream pool ${route.pool}`);
    const headers = upstreamRequestHeaders(
      ex.headers,
      { address: conn.address, secure: conn.secure, host: ex.host ?? site.name, protocol: ex.protocol },
      ctx.via,
    );
    if (site.auth) delete headers.authorization;
    applyHeaderRules(headers, site.requestHeaders);
    const path = route.stripPrefix ? `/${ex.path.slice(route.prefix.length).replace(/^\//, "")}` : ex.path;
    const responseRules = site.responseHeaders;
    const done = await forwardRequest(
      ex,
      {
        route,
        pool,
        path,
        headers,
        maxBodyBytes: site.limits.maxBodyBytes,
        upstreamTimeoutMs: site.limits.upstreamTimeoutMs,
        via: ctx.via,
        responseHeaders: (h) => applyHeaderRules(h, responseRules),
        connectFailed: (u) => ctx.connectFailed(u),
        tlsFailed: (u, failure) => ctx.tlsFailed(u, failure),
      },
      outcome,
    );
    if (done.error) note = done.error;
  } catch (err) {
    const code = err instanceof HttpError && err.status !== undefined ? err.status : 502;
    if (err instanceof UpstreamError) {
      if (err.upstream) outcome.upstream = err.upstream;
      if (site) ctx.metrics.upstreamError(site.name, err.upstream ?? "(none)");
    }
    note =
      err instanceof UpstreamTlsError
        ? `${err.message}: ${err.failure.reason}`
        : err instanceof Error
          ? err.message
          : String(err);
    if (ex.started) {
      ex.abort();
      return;
    }
    // A refused body is left unread: the connection (HTTP/2: the stream) ends after the answer.
    const message = err instanceof HttpError ? err.message : "bad gateway";
    answer(code, `${code} ${message}`, undefined, code === 413);
  }
}
