import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { Logger } from "@switchyard/runtime";
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
  /** Idle connections (no request, no stream) close after this long. */
  idleTimeoutMs?: number;
  /** A client without SNI has this long to finish its TLS handshake. */
  handshakeTimeoutMs?: number;
}

/**
 * DNS over HTTPS on handed-off connections: TLS with the certificate for the SNI the edge routed
 * on, then HTTP/2 or HTTP/1.1 by ALPN (`node:http2` with `allowHTTP1`). The socket arrives with the
 * ClientHello the edge read replayed into it.
 */
export class DohServer {
  private readonly server: Http2SecureServer;
  private warned = false;

  constructor(private readonly options: DohServerOptions) {
    const handler = createDohHandler(options.answer, options.observe);
    this.server = createSecureServer({
      allowHTTP1: true,
      settings: { maxConcurrentStreams: 100 },
      SNICallback: (servername, cb) => {
        const context = options.tls()?.getSecureContext(servername);
        if (context) cb(null, context);
        else cb(new Error(`no certificate for ${servername}`));
      },
    });
    this.server.setTimeout(options.idleTimeoutMs ?? 30_000);
    this.server.on("request", (req, res) =>
      handler(req as unknown as DohRequest, res as unknown as DohResponse),
    );
    this.server.on("tlsClientError", (err, socket) => {
      options.logger.debug({ err: err.message, remote: socket.remoteAddress }, "doh tls handshake failed");
    });
    this.server.on("sessionError", (err) => options.logger.debug({ err: err.message }, "doh session error"));
  }

  /** Serves a handed-off connection; `sni` is the name the client sent, if it sent one. */
  accept(socket: Socket, sni?: string): void {
    if (!this.options.tls()) {
      if (!this.warned) {
        this.warned = true;
        this.options.logger.warn("a DoH connection arrived but dns.doh has no certFile/keyFile: closing it");
      }
      socket.destroy();
      return;
    }
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
    // The one place this connection's handshake ends, however it ends.
    const deadline = setTimeout(() => tls.destroy(), this.options.handshakeTimeoutMs ?? 10_000);
    const settle = () => clearTimeout(deadline);
    tls.once("close", settle);
    tls.on("error", (err) => {
      settle();
      this.options.logger.debug({ err: err.message }, "doh tls handshake failed (no SNI)");
      tls.destroy();
    });
    tls.once("secure", () => {
      settle();
      // As tls.Server does before it hands a socket on: an HTTP/2 session on a socket that still
      // looks mid-handshake waits for a client-side event that never comes.
      (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      this.server.emit("secureConnection", tls);
    });
  }

  close(): void {
    this.server.close();
  }
}
