/** Base class of every error this package throws or emits. */
export class HandoffError extends Error {
  override name = "HandoffError";
}

/** The channel is closed: by close(), or because the peer hung up. */
export class HandoffClosedError extends HandoffError {
  override name = "HandoffClosedError";
  constructor(message = "handoff channel is closed", options?: ErrorOptions) {
    super(message, options);
  }
}

/** send() found `maxQueued` messages already waiting for the socket to become writable. */
export class HandoffQueueFullError extends HandoffError {
  override name = "HandoffQueueFullError";
  constructor(readonly limit: number) {
    super(`handoff send queue is full (${limit} messages waiting)`);
  }
}

/** A received message was dropped because it was truncated or carried too many fds. The fds
 * it brought are already closed and the channel stays usable. */
export class HandoffProtocolError extends HandoffError {
  override name = "HandoffProtocolError";
  constructor(
    readonly reason: string,
    readonly bytes: number,
    readonly fds: number,
  ) {
    super(`handoff message dropped: ${reason} (${bytes} bytes, ${fds} fds received and closed)`);
  }
}

/** Nobody accepted the connection at `path`; `code` is the system's (ENOENT, ECONNREFUSED...). */
export class HandoffConnectError extends HandoffError {
  override name = "HandoffConnectError";
  constructor(
    readonly path: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`cannot connect to handoff socket ${path}: ${describeConnectFailure(code)}`, options);
  }
}

function describeConnectFailure(code: string): string {
  switch (code) {
    case "ENOENT":
      return "no socket file at that path (is the listener running?)";
    case "ECONNREFUSED":
      return "nobody is listening on it (stale socket file?)";
    case "EACCES":
      return "permission denied (socket file mode or directory permissions)";
    case "EAGAIN":
      return "the listener's backlog stayed full";
    default:
      return code;
  }
}

/** accept4() failed on a TcpAcceptor. `code` is the system's (EMFILE, ENFILE, ENOBUFS, ENOMEM,
 * EPERM...); `cause` is the system error. The acceptor stays open. */
export class HandoffAcceptError extends HandoffError {
  override name = "HandoffAcceptError";
  constructor(
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`TCP acceptor: accept4 failed: ${code}`, options);
  }
}

/** A notify datagram (sd_notify(3)) was not taken: `code` is the system's (ENOENT, ECONNREFUSED,
 * EAGAIN: the receiver's queue is full, EMSGSIZE...); `cause` is the system error. */
export class NotifySendError extends HandoffError {
  override name = "NotifySendError";
  constructor(
    readonly address: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`cannot send a notify datagram to ${address}: ${code}`, options);
  }
}
