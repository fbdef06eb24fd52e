import { connect as tlsConnect } from "node:tls";
import { type buildConnector, errors } from "undici";
import { tlsFailureOf } from "./tls-failure.js";
import type { UpstreamTlsSettings } from "./upstream-tls.js";

/** How long an alert after the handshake is kept for the request it failed to find. */
const LATE_ERROR_KEPT_MS = 1000;

/**
 * The connect function of one https:// upstream's undici pool: TLS with the pool's SecureContext,
 * the fixed SNI (none for an IP address without serverName: the certificate must then name the
 * address), ALPN http/1.1 (and h2 when allowed), and the last TLS session kept for resumption.
 *
 * Ours rather than undici's buildConnector: undici keeps sessions behind a WeakRef (gone at the next
 * GC, so a new connection rarely resumes), and would take the name from each request's Host.
 */
export function tlsConnector(target: {
  host: string;
  port: number;
  sni: string | undefined;
  tls: UpstreamTlsSettings;
  allowH2: boolean;
  timeoutMs: number;
  /**
   * TLS errors after the handshake, by the connection's local port, for LATE_ERROR_KEPT_MS:
   * TLS 1.3 sends the verdict on our client certificate after the handshake, and undici reports
   * the closed socket ("other side closed") instead of the alert.
   */
  lateErrors: Map<number, Error>;
}): buildConnector.connector {
  const { host, port, sni, tls, allowH2, timeoutMs, lateErrors } = target;
  let session: Buffer | undefined;
  return (_options, callback) => {
    const socket = tlsConnect({
      host,
      port,
      ...(sni ? { servername: sni } : {}),
      secureContext: tls.secureContext,
      rejectUnauthorized: tls.verify,
      ALPNProtocols: allowH2 ? ["h2", "http/1.1"] : ["http/1.1"],
      ...(session ? { session } : {}),
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        // A session the upstream no longer takes must not fail the next connect too.
        session = undefined;
        callback(err, null);
      } else callback(null, socket);
    };
    // The deadline covers the TCP connect and the handshake; undici counts it as a failed connect.
    const timer = setTimeout(() => {
      socket.destroy();
      finish(new errors.ConnectTimeoutError(`connect to ${host}:${port} took over ${timeoutMs} ms`));
    }, timeoutMs);
    // The socket holds the process while it connects; a pool destroyed meanwhile must not wait for this.
    timer.unref();
    socket.on("session", (s: Buffer) => {
      session = s;
    });
    socket.once("secureConnect", () => {
      const local = socket.localPort;
      if (local !== undefined) {
        socket.on("error", (err) => {
          if (!tlsFailureOf(err)) return;
          lateErrors.set(local, err);
          setTimeout(() => lateErrors.delete(local), LATE_ERROR_KEPT_MS).unref();
        });
      }
      finish(null);
    });
    socket.on("error", (err) => finish(err));
    return socket;
  };
}
