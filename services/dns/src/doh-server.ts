import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { Socket } from "node:net";
import type { Logger } from "@switchyard/runtime";
import { createDohHandler, type DnsAnswer, type DohRequest, type DohResponse } from "./doh-handler.js";
import type { TlsContextSource } from "./tls-context.js";

export interface DohServerOptions {
  answer: DnsAnswer;
  /** Certificates by SNI; undefined: DoH connections are closed (no certificate configured). */
  tls: () => TlsContextSource | undefined;
  logger: Logger;
  observe?: (status: number) => void;
  /** Idle connections (no request, no stream) close after this long. */
  idleTimeoutMs?: number;
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

  /** Serves a handed-off connection. */
  accept(socket: Socket): void {
    if (!this.options.tls()) {
      if (!this.warned) {
        this.warned = true;
        this.options.logger.warn("a DoH connection arrived but dns.doh has no certFile/keyFile: closing it");
      }
      socket.destroy();
      return;
    }
    socket.on("error", () => socket.destroy());
    this.server.emit("connection", socket);
  }

  close(): void {
    this.server.close();
  }
}
