import {
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { Logger } from "@switchyard/runtime";
import { NoCertificateError } from "../errors.js";
import type { ConnectionSlot } from "./connection-slots.js";
import {
  type DohConnection,
  type DohLimits,
  type Http1Request,
  type Http1Response,
  LINGER_MS,
  limitHttp1Request,
  limitHttp2Stream,
  peerKey,
} from "./doh-connection.js";
import { createDohHandler, type DnsAnswer, type DohRequest, type DohResponse } from "./doh-handler.js";
import type { TlsContextSource } from "./tls-context.js";

export interface DohServerOptions {
  answer: DnsAnswer;
  /** Certificates by SNI; undefined: DoH connections are closed (no certificate configured). */
  tls: () => TlsContextSource | undefined;
  /** The name whose certificate a client that sends no SNI gets (it connected by IP address). */
  nameWithoutSni?: () => string | undefined;
  logger: Logger;
  observe?: (status: number) => void;
  limits: () => DohLimits;
  /** An HTTP/2 session over dns.tcp.maxStreamsPerSecond was sent GOAWAY ENHANCE_YOUR_CALM. */
  calmed?: () => void;
}

/**
 * DNS over HTTPS on handed-off connections: TLS with the certificate for the SNI the edge routed
 * on, then HTTP/2 or HTTP/1.1 by ALPN (`node:http2` with `allowHTTP1`). The socket arrives with the
 * ClientHello the edge read replayed into it. Deadlines live on the connection's slot (they end with
 * it): the TLS handshake and first request head, each HTTP/1.1 head after a response, each HTTP/2
 * stream to its response, an HTTP/2 session without streams; none is reset by bytes.
 */
export class DohServer {
  private readonly server: Http2SecureServer;
  /** By the client's address and port (the TLS socket and the handed-off one share them). */
  private readonly connections = new Map<string, DohConnection>();
  private warned = false;

  constructor(private readonly options: DohServerOptions) {
    const handler = createDohHandler(options.answer, options.observe);
    this.server = createSecureServer({
      allowHTTP1: true,
      settings: { maxConcurrentStreams: options.limits().maxStreams },
      SNICallback: (servername, cb) => {
        const context = options.tls()?.getSecureContext(servername);
        if (context) cb(null, context);
        else cb(new NoCertificateError(servername));
      },
    });
    this.server.on("request", (req, res) => {
      if (req.httpVersionMajor === 1) this.http1Request(req.socket, req, res);
      handler(req as unknown as DohRequest, res as unknown as DohResponse);
    });
    this.server.on("session", (session) => this.http2Session(session));
    this.server.on("stream", (stream) => this.http2Stream(stream));
    this.server.on("tlsClientError", (err, socket) => {
      options.logger.debug({ err: err.message, remote: socket.remoteAddress }, "doh tls handshake failed");
    });
    this.server.on("sessionError", (err) => options.logger.debug({ err: err.message }, "doh session error"));
  }

  /** Serves a handed-off connection holding `slot`; `sni` is the name the client sent, if any. */
  accept(socket: Socket, slot: ConnectionSlot, sni?: string): void {
    if (!this.options.tls()) {
      if (!this.warned) {
        this.warned = true;
        this.options.logger.warn("a DoH connection arrived but dns.doh has no certFile/keyFile: closing it");
      }
      socket.destroy();
      return;
    }
    const key = peerKey(socket);
    if (key !== undefined) {
      const conn: DohConnection = { slot, streams: 0, windowStart: 0, windowStreams: 0 };
      this.connections.set(key, conn);
      slot.onRelease(() => {
        if (this.connections.get(key) === conn) this.connections.delete(key);
      });
    }
    // The TLS handshake and the first request head (HTTP/2: the first HEADERS) within this.
    slot.deadline("request", "request", this.options.limits().requestTimeoutMs);
    slot.drain = () => {
      const session = key === undefined ? undefined : this.connections.get(key)?.session;
      if (session) session.close();
      else socket.destroy();
    };
    socket.on("error", () => socket.destroy());
    if (sni === undefined) this.acceptWithoutSni(socket);
    else this.server.emit("connection", socket);
  }

  /**
   * No SNI, so no SNICallback: the handshake runs here with the certificate of `nameWithoutSni`, and
   * the TLS socket joins the server as one it had accepted itself (HTTP/2 or HTTP/1.1 by ALPN).
   */
  private acceptWithoutSni(socket: Socket): void {
    const name = this.options.nameWithoutSni?.();
    const context = name === undefined ? undefined : this.options.tls()?.getSecureContext(name);
    if (!context) {
      this.options.logger.debug({ name }, "doh client without SNI and no certificate for it: closing");
      socket.destroy();
      return;
    }
    const tls = new TLSSocket(socket, {
      isServer: true,
      // As a socket the server accepted itself: its HTTP/1.1 fallback and session events need it.
      server: this.server,
      secureContext: context,
      ALPNProtocols: ["h2", "http/1.1"],
    });
    // The handshake is bounded by the slot's request deadline (set in accept), which ends with the
    // connection however it ends.
    tls.on("error", (err) => {
      this.options.logger.debug({ err: err.message }, "doh tls handshake failed (no SNI)");
      tls.destroy();
    });
    tls.once("secure", () => {
      // As tls.Server does before it hands a socket on: an HTTP/2 session on a socket that still
      // looks mid-handshake waits for a client-side event that never comes.
      (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      this.server.emit("secureConnection", tls);
    });
  }

  /** New sessions get the current dns.tcp.maxStreams in their SETTINGS. */
  reload(): void {
    this.server.updateSettings({ maxConcurrentStreams: this.options.limits().maxStreams });
  }

  close(): void {
    this.server.close();
  }

  private find(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined } | undefined) {
    const key = socket && peerKey(socket);
    return key === undefined ? undefined : this.connections.get(key);
  }

  /** HTTP/1.1: the request's body and answer, then the next head, each within requestTimeoutMs. */
  private http1Request(socket: Socket, req: Http1Request, res: Http1Response): void {
    const conn = this.find(socket);
    if (conn) limitHttp1Request(conn, socket, req, res, this.options.limits().requestTimeoutMs);
  }

  private http2Session(session: Http2Session): void {
    const conn = this.find(session.socket);
    if (!conn) return;
    conn.session = session;
    // However the session ends (GOAWAY either way, error, deadline), the connection goes with it.
    session.once("close", () => conn.slot.deadline("closing", "closing", LINGER_MS));
  }

  /** HTTP/2: each stream answered within requestTimeoutMs (else reset); idle and stream-rate limits. */
  private http2Stream(stream: ServerHttp2Stream): void {
    const conn = this.find(stream.session?.socket);
    if (conn) limitHttp2Stream(conn, stream, this.options.limits(), () => this.options.calmed?.());
  }
}
