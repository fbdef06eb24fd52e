/** The edge's errors: one base, a named subclass per failure, the cause kept. */
export class EdgeError extends Error {
  override name = "EdgeError";
}

/** A port the config asks for cannot be listened on or bound (in use, no permission, no address). */
export class ListenError extends EdgeError {
  override name = "ListenError";

  constructor(
    readonly protocol: "tcp" | "udp",
    readonly address: string,
    readonly port: number,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `cannot ${protocol === "tcp" ? "listen on" : "bind"} ${protocol} ${address}:${port}: ${reason}`,
      options,
    );
  }
}

/** Node's socket internals no longer look as the edge expects (a Node upgrade changed them). */
export class SocketInternalsError extends EdgeError {
  override name = "SocketInternalsError";
}

/** A route's domain pattern that is not one (a misplaced `*`, an empty label). */
export class DomainPatternError extends EdgeError {
  override name = "DomainPatternError";

  constructor(
    readonly pattern: string,
    problem: string,
  ) {
    super(`${JSON.stringify(pattern)} is not a domain pattern: ${problem}`);
  }
}

/** An edge upgrade could not be done (another one runs, the successor died or timed out); the old edge serves on. */
export class UpgradeError extends EdgeError {
  override name = "UpgradeError";
}

/** systemd's notify socket (NOTIFY_SOCKET) did not take a message; `cause` is the NotifySendError. */
export class SystemdNotifyError extends EdgeError {
  override name = "SystemdNotifyError";

  constructor(
    readonly notification: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`systemd notify (${notification.split("\n")[0]}): ${reason}`, options);
  }
}
