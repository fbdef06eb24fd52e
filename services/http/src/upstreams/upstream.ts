import { isIP } from "node:net";
import { parseUpstreamAddress } from "@switchyard/config";
import { Client, Pool } from "undici";
import { tlsConnector } from "./tls-connector.js";
import { type TlsFailure, tlsFailureOf } from "./tls-failure.js";
import type { UpstreamTlsSettings } from "./upstream-tls.js";

/** How long an upstream that refused a connection is skipped (passive health) unless a check says up. */
export const PASSIVE_DOWN_MS = 10_000;

/** How long the same upstream's TLS failures are logged only once. */
const TLS_LOG_EVERY_MS = 10_000;

const POOL_OPTIONS = {
  connections: 256,
  keepAliveTimeout: 4000,
  keepAliveMaxTimeout: 60_000,
  pipelining: 1,
} as const;

/**
 * undici's Client always sets pipelining (1 by default), which would make an h2 connection busy at
 * one stream and open a connection per concurrent request. Unset, each connection takes its
 * protocol's own: 1 for HTTP/1.1, the streams nghttp2 allows for h2.
 */
function h2Client(origin: URL, opts: object): Client {
  const client = new Client(origin, opts);
  (client as unknown as { pipelining: number | null }).pipelining = null;
  return client;
}

/**
 * One upstream of one pool: its keep-alive connections (an undici Pool), the requests in flight on
 * it, and its health. Passive health: a failed connect marks it down for PASSIVE_DOWN_MS. Active
 * health (when the site has healthCheck): the last check's verdict.
 *
 * An `https://` upstream connects with its pool's TLS settings: one shared SecureContext, SNI and
 * the name checked = serverName, else the upstream's host name (an IP address: no SNI, the
 * certificate must name the address); the last TLS session is kept for resumption and connections
 * kept alive (tls-connector.ts). Every request passes `servername`: undici would otherwise take it
 * from each request's Host, and a change of name closes the pool's connection.
 */
export class Upstream {
  readonly client: Pool;
  /** For `servername` in every dispatch to a TLS upstream; undefined for plain HTTP. */
  readonly servername: string | undefined;
  /** HTTP/2 may be spoken (an https:// upstream whose pool has h2 on, or an h2c:// one). */
  readonly h2: boolean;
  /** With h2 on, Upgrades (WebSocket) need HTTP/1.1: their own pool, made at the first one. */
  private http1Only: Pool | undefined;
  private readonly makePool: (allowH2: boolean) => Pool;
  /** TLS alerts after a handshake (tls-connector.ts), by local port, briefly. */
  private readonly lateTlsErrors = new Map<number, Error>();
  private tlsLoggedAt = -Infinity;
  private tlsLogged = "";
  inFlight = 0;
  /** The last active check's verdict (true until a check says otherwise). */
  checkedHealthy = true;
  /** Passive: skipped until this time (performance.now()). */
  private downUntil = 0;
  failures = 0;

  constructor(
    readonly address: string,
    readonly pool: string,
    options: { connectTimeoutMs: number; tls?: UpstreamTlsSettings | undefined },
  ) {
    const parsed = parseUpstreamAddress(address);
    if (!parsed) throw new TypeError(`${address} is not an upstream address`); // the schema checked it
    const { tls } = options;
    const timeout = options.connectTimeoutMs;
    if (parsed.scheme === "https") {
      if (!tls) throw new TypeError(`${address}: an https upstream needs its pool's TLS settings`);
      const sni = tls.serverName ?? (isIP(parsed.host) === 0 ? parsed.host : undefined);
      this.servername = sni ?? parsed.host;
      this.makePool = (allowH2) => {
        const connect = tlsConnector({
          host: parsed.host,
          port: parsed.port,
          sni,
          tls,
          allowH2,
          timeoutMs: timeout,
          lateErrors: this.lateTlsErrors,
        });
        if (!allowH2) return new Pool(parsed.origin, { ...POOL_OPTIONS, connect });
        return new Pool(parsed.origin, { ...POOL_OPTIONS, connect, allowH2, factory: h2Client });
      };
      this.h2 = tls.h2;
      this.client = this.makePool(tls.h2);
    } else if (parsed.scheme === "h2c") {
      // HTTP/2 from the first byte (prior knowledge, RFC 9113 3.3): gRPC servers without TLS.
      this.h2 = true;
      this.servername = undefined;
      this.makePool = (h2) =>
        h2
          ? new Pool(parsed.origin, {
              ...POOL_OPTIONS,
              connect: { timeout, useH2c: true } as object,
              allowH2: true,
              factory: h2Client,
            })
          : new Pool(parsed.origin, { ...POOL_OPTIONS, connect: { timeout } });
      this.client = this.makePool(true);
    } else {
      this.h2 = false;
      this.servername = undefined;
      this.makePool = () => new Pool(parsed.origin, { ...POOL_OPTIONS, connect: { timeout } });
      this.client = this.makePool(false);
    }
  }

  /** The pool for an Upgrade: the client's own, unless h2 may be negotiated on it. */
  get upgradeClient(): Pool {
    if (!this.h2) return this.client;
    this.http1Only ??= this.makePool(false);
    return this.http1Only;
  }

  /**
   * The TLS failure behind a failed request: its own error, or the alert that closed its connection
   * after the handshake (a client certificate the upstream refused), which undici reports as a
   * closed socket. Undefined: not TLS.
   */
  tlsFailureOf(err: unknown): TlsFailure | undefined {
    const direct = tlsFailureOf(err);
    if (direct) return direct;
    const info = err as { code?: string; socket?: { localPort?: number } } | null;
    if (info?.code !== "UND_ERR_SOCKET" || info.socket?.localPort === undefined) return undefined;
    return tlsFailureOf(this.lateTlsErrors.get(info.socket.localPort));
  }

  /**
   * Whether this TLS failure should be logged now: the first of a kind, then at most one per
   * TLS_LOG_EVERY_MS (a misconfigured upstream under load would otherwise log every request).
   */
  shouldLogTls(failure: TlsFailure): boolean {
    const now = performance.now();
    if (failure.label === this.tlsLogged && now - this.tlsLoggedAt < TLS_LOG_EVERY_MS) return false;
    this.tlsLogged = failure.label;
    this.tlsLoggedAt = now;
    return true;
  }

  get healthy(): boolean {
    return this.checkedHealthy && performance.now() >= this.downUntil;
  }

  /** A connect failed (refused, timed out, reset before a response): skip it for a while. */
  markConnectFailure(): void {
    this.failures++;
    this.downUntil = performance.now() + PASSIVE_DOWN_MS;
  }

  /** An active check answered 2xx/3xx (clears a passive mark too) or did not. */
  markChecked(healthy: boolean): void {
    this.checkedHealthy = healthy;
    if (healthy) this.downUntil = 0;
  }

  /** Closes idle connections once in-flight requests are done (a reload). */
  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.http1Only?.close()]);
  }

  /** Ends every connection now (stop). */
  async destroy(): Promise<void> {
    await Promise.all([this.client.destroy(), this.http1Only?.destroy()]);
  }
}

/**
 * A pool's upstreams and the choice among them: least outstanding requests among the healthy ones
 * (ties go round robin from a moving start, so equal upstreams share the load).
 */
export class UpstreamPool {
  private next = 0;

  constructor(
    readonly name: string,
    readonly upstreams: Upstream[],
  ) {}

  /** The healthy upstream with the fewest requests in flight, not one of `tried`; undefined: none. */
  pick(tried: ReadonlySet<Upstream> = new Set()): Upstream | undefined {
    const n = this.upstreams.length;
    let best: Upstream | undefined;
    for (let i = 0; i < n; i++) {
      const u = this.upstreams[(this.next + i) % n] as Upstream;
      if (tried.has(u) || !u.healthy) continue;
      if (!best || u.inFlight < best.inFlight) best = u;
    }
    this.next = (this.next + 1) % Math.max(1, n);
    return best;
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.destroy()));
  }
}
