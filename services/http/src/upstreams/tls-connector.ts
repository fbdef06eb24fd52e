import { connect as tlsConnect } from "node:tls";
import { type buildConnector, errors } from "undici";
import type { UpstreamTlsSettings } from "./upstream-tls.js";

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
}): buildConnector.connector {
  const { host, port, sni, tls, allowH2, timeoutMs } = target;
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
      finish(new errors.ConnectTimeoutError(`connect to ${host}:${port} took over ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
    socket.on("session", (s: Buffer) => {
      session = s;
    });
    socket.once("secureConnect", () => finish(null));
    socket.on("error", (err) => finish(err));
    return socket;
  };
}
