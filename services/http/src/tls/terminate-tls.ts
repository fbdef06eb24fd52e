import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { NoCertificateError } from "../errors.js";

/** TLS 1.2 with forward-secret AEAD suites only; TLS 1.3 suites are Node's (all AEAD). */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * The context every handshake starts from (the protocol floor and ciphers; SNICallback swaps in the
 * site's certificate). Made once: a TLSSocket given none builds a new OpenSSL context per connection.
 */
let serverContext: SecureContext | undefined;
function baseContext(): SecureContext {
  serverContext ??= createSecureContext({ minVersion: "TLSv1.2", ciphers: TLS12_CIPHERS });
  return serverContext;
}

/**
 * The session-ticket key for every handshake of this process (SharedTicketKeys keeps it the same
 * on every replica). Tickets belong to the context a handshake starts from, not to the site's
 * context SNI swaps in, so the base context's key is the one that counts.
 */
export function setTicketKey(key: Buffer): void {
  (baseContext() as SecureContext & { context: { setTicketKeys(keys: Buffer): void } }).context.setTicketKeys(
    key,
  );
}

/**
 * Ends TLS on a handed-off socket (its ClientHello replayed into it by the edge): the certificate by
 * SNI from `contextFor` at each handshake (so a renewed one serves the next handshake), ALPN h2
 * then http/1.1, TLS 1.2 at least. `secure` runs with the TLS socket and the protocol agreed;
 * a failed handshake destroys the socket (the slot's handshake deadline bounds a silent one).
 * `ocsp`, when given, is the TLSSocket's `server`: node emits `OCSPRequest` on it when the client
 * asks for certificate status, and staples what its listener answers (src/ocsp/ocsp-stapler.ts).
 */
export function terminateTls(
  socket: Socket,
  contextFor: (servername: string) => SecureContext | undefined,
  secure: (tls: TLSSocket, protocol: "h2" | "http/1.1") => void,
  failed: (err: Error) => void,
  ocsp?: EventEmitter,
): TLSSocket {
  const tls = new TLSSocket(socket, {
    isServer: true,
    ALPNProtocols: ["h2", "http/1.1"],
    SNICallback: (servername, cb) => {
      const context = contextFor(servername);
      if (context) cb(null, context);
      else cb(new NoCertificateError(servername));
    },
    secureContext: baseContext(),
    ...(ocsp ? { server: ocsp } : {}),
  } as ConstructorParameters<typeof TLSSocket>[1]);
  tls.once("secure", () => {
    // As tls.Server does before it hands a socket on: an HTTP/2 session on a socket that still
    // looks mid-handshake waits for a client-side event that never comes.
    (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
    secure(tls, tls.alpnProtocol === "h2" ? "h2" : "http/1.1");
  });
  tls.on("error", (err) => {
    failed(err);
    tls.destroy();
    socket.destroy();
  });
  return tls;
}
