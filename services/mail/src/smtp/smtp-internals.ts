import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import type { SMTPServer, SMTPServerSession } from "smtp-server";

/**
 * The one place that reaches into smtp-server (3.21) internals. smtp-server parses commands with
 * `\r?\n` and passes bare CR/LF through DATA, so the raw client bytes must be inspected before its
 * parser: we wrap `write` of each command parser a connection creates (the first one, and the fresh
 * one it makes after STARTTLS, which only ever sees decrypted bytes). Everything else goes through
 * the public API (`connect(socket, options)`, hooks, options).
 */
interface SmtpStreamInternals {
  write(chunk: Buffer, ...rest: unknown[]): boolean;
}

interface SmtpConnectionInternals {
  id: string;
  init(): void;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  session: SMTPServerSession;
  secure: boolean;
  _parser: SmtpStreamInternals | false;
  _createParser(): SmtpStreamInternals;
  _isSupported(command: string): boolean;
  handler_EHLO(command: Buffer, callback: () => void): void;
  send(code: number, text: string): void;
  close(): void;
}

interface ServerInternals {
  connect(socket: Socket, options: Record<string, unknown>): void;
  connections: Set<SmtpConnectionInternals>;
}

/** What the service holds of one SMTP connection. */
export interface SmtpConnectionHandle {
  readonly id: string;
  readonly session: SMTPServerSession;
  /** Sends a reply line and closes the connection (flushing the reply first). */
  refuseAndClose(code: number, text: string): void;
}

export interface ConnectOptions {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** Every raw client chunk, before smtp-server parses it; return false to drop it. */
  inspect: () => (chunk: Buffer) => boolean;
  /** Leave AUTH out of the EHLO reply until the connection is TLS (RFC 3207 §4.2, RFC 4954 §4). */
  authOnlyOverTls?: boolean;
  /**
   * The session's id, before smtp-server runs any hook for it: the greeting (and `onConnect`) may
   * come before `connectSocket` returns.
   */
  onSessionId: (id: string) => void;
}

/** Hands an adopted socket to smtp-server, with the client's real address, and returns the connection. */
export function connectSocket(
  server: SMTPServer,
  socket: Socket,
  options: ConnectOptions,
): SmtpConnectionHandle {
  const internals = server as unknown as ServerInternals;
  let created: SmtpConnectionInternals | undefined;
  const add = internals.connections.add;
  // connect() adds the connection to the set before init(), which may already create the TLS
  // parser (implicit TLS): hook the connection at that moment.
  internals.connections.add = function (this: Set<SmtpConnectionInternals>, conn: SmtpConnectionInternals) {
    created = conn;
    options.onSessionId(conn.id);
    greetAtOnce(conn);
    guardParsers(conn, options.inspect);
    if (options.authOnlyOverTls) hideAuthBeforeTls(conn);
    return add.call(this, conn);
  };
  keepCloseListeners(socket);
  try {
    const { inspect: _, authOnlyOverTls: __, onSessionId: ___, ...socketOptions } = options;
    internals.connect(socket, socketOptions);
  } finally {
    internals.connections.add = add;
  }
  const conn = created as SmtpConnectionInternals;
  return {
    id: conn.id,
    session: conn.session,
    refuseAndClose(code, text) {
      conn.send(code, text);
      conn.close();
    },
  };
}

/**
 * smtp-server calls `removeAllListeners()` on the raw socket when it starts TLS (STARTTLS and
 * implicit TLS alike), which silently dropped every "close" listener the worker and the service had
 * put on the handed-off socket: the edge's "connection ended" report, the per-address count and
 * the sessions gauge leaked for every TLS session. The raw socket still emits "close" when the TLS
 * socket over it ends, so the listeners registered before the hand-over are put back each time.
 */
function keepCloseListeners(socket: Socket): void {
  const kept = socket.listeners("close") as Array<(...args: unknown[]) => void>;
  const removeAll = socket.removeAllListeners.bind(socket);
  socket.removeAllListeners = (event?: string | symbol) => {
    removeAll(event);
    // removeAllListeners() may recurse into removeAllListeners("close"): add each one back once.
    const present = socket.listeners("close");
    for (const listener of kept) if (!present.includes(listener)) socket.once("close", listener);
    return socket;
  };
}

/**
 * smtp-server's `init()` waits 100 ms after a connection (after the handshake, on implicit TLS)
 * before it greets, to catch clients that talk first ("421 You talk too soon"). Every session paid
 * that: at 10 messages per connection it was two thirds of a lone sender's time (bench/mail). The
 * same steps without the pause: listeners and the parser first, then the greeting in the same turn,
 * so a byte the client sends is parsed only after the 220 went out. (smtp-server's other check in
 * `init()`, `maxClients`, is not used here: SessionSlots limit sessions per address.)
 */
function greetAtOnce(conn: SmtpConnectionInternals): void {
  conn.init = () => conn._setListeners(() => conn.connectionReady());
}

/** EHLO without the AUTH line while the connection is plaintext (smtp-server has no such option). */
function hideAuthBeforeTls(conn: SmtpConnectionInternals): void {
  const ehlo = conn.handler_EHLO.bind(conn);
  conn.handler_EHLO = (command, callback) => {
    if (conn.secure) return ehlo(command, callback);
    const isSupported = conn._isSupported.bind(conn);
    conn._isSupported = (name) => name !== "AUTH" && isSupported(name);
    try {
      ehlo(command, callback);
    } finally {
      // handler_EHLO replies synchronously; AUTH itself still answers 538 before STARTTLS.
      delete (conn as Partial<SmtpConnectionInternals>)._isSupported;
    }
  };
}

function guardParsers(conn: SmtpConnectionInternals, inspect: () => (chunk: Buffer) => boolean): void {
  const wrap = (parser: SmtpStreamInternals) => {
    const check = inspect();
    const write = parser.write.bind(parser);
    parser.write = (chunk: Buffer, ...rest: unknown[]) => {
      if (!check(chunk)) return true;
      return write(chunk, ...rest);
    };
    return parser;
  };
  const create = conn._createParser.bind(conn);
  conn._createParser = () => wrap(create());
  if (conn._parser) wrap(conn._parser);
}

/**
 * Replaces the context smtp-server gives TLS clients that send no SNI (its `secureContext` map entry
 * `*`, read at every STARTTLS and implicit-TLS upgrade), so a renewed certificate is served live.
 * Clients that send SNI go through the `SNICallback` option, which is public API.
 */
export function setDefaultSecureContext(server: SMTPServer, context: SecureContext): void {
  (server as unknown as { secureContext: Map<string, SecureContext> }).secureContext.set("*", context);
}
