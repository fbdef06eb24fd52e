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

/** What a TlsTerminator does with each connection `C` (one set of functions for all of them). */
export interface TlsHandlers<C> {
  /** The site's context for a ClientHello's SNI, at each handshake (a renewed one serves the next). */
  contextFor(servername: string): SecureContext | undefined;
  /** The handshake is done: the TLS socket and the protocol agreed. */
  secure(tls: TLSSocket, protocol: "h2" | "http/1.1", conn: C): void;
  /** The TLS socket failed (the socket and the TLS socket are destroyed after). */
  failed(err: Error, conn: C): void;
}

const TERMINATION = Symbol("switchyard.http.tls");
interface Termination<C> {
  handlers: TlsHandlers<C>;
  conn: C;
  socket: Socket;
}
type Terminated<C> = TLSSocket & { [TERMINATION]: Termination<C>; secureConnecting: boolean };

/**
 * Ends TLS on handed-off sockets (each one's ClientHello replayed into it by the edge): the
 * certificate by SNI from `contextFor` at each handshake, ALPN h2 then http/1.1, TLS 1.2 at least.
 * `secure` runs with the TLS socket and the protocol agreed; a failed handshake destroys the socket
 * (the slot's handshake deadline bounds a silent one). `ocsp`, when given, is the TLSSocket's
 * `server`: node emits `OCSPRequest` on it when the client asks for certificate status, and staples
 * what its listener answers (src/ocsp/ocsp-stapler.ts). The TLSSocket options and listeners are made
 * once and shared by every connection (an idle connection keeps its listeners for its whole life).
 */
export class TlsTerminator<C> {
  private readonly plain: object;
  private readonly stapled: object | undefined;

  constructor(
    private readonly handlers: TlsHandlers<C>,
    ocsp?: EventEmitter,
  ) {
    const options = {
      isServer: true,
      ALPNProtocols: ["h2", "http/1.1"],
      SNICallback: (servername: string, cb: (err: Error | null, context?: SecureContext) => void) => {
        const context = handlers.contextFor(servername);
        if (context) cb(null, context);
        else cb(new NoCertificateError(servername));
      },
      secureContext: baseContext(),
    };
    this.plain = options;
    this.stapled = ocsp ? { ...options, server: ocsp } : undefined;
  }

  /** TLS on `socket` for `conn`; `staple` answers OCSP status requests (when an `ocsp` was given). */
  terminate(socket: Socket, conn: C, staple: boolean): TLSSocket {
    const options = staple && this.stapled ? this.stapled : this.plain;
    const tls = new TLSSocket(socket, options as ConstructorParameters<typeof TLSSocket>[1]) as Terminated<C>;
    tls[TERMINATION] = { handlers: this.handlers, conn, socket };
    tls.once("secure", onSecure);
    tls.on("error", onTlsError);
    return tls;
  }
}

function onSecure<C>(this: Terminated<C>): void {
  // As tls.Server does before it hands a socket on: an HTTP/2 session on a socket that still
  // looks mid-handshake waits for a client-side event that never comes.
  this.secureConnecting = false;
  const { handlers, conn } = this[TERMINATION];
  handlers.secure(this, this.alpnProtocol === "h2" ? "h2" : "http/1.1", conn);
}

function onTlsError<C>(this: Terminated<C>, err: Error): void {
  const { handlers, conn, socket } = this[TERMINATION];
  handlers.failed(err, conn);
  this.destroy();
  socket.destroy();
}
