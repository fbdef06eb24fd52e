/** The stream pool's errors: one base, a named subclass per failure, the cause kept. */
export class StreamError extends Error {
  override name = "StreamError";
}

/** A forward's target did not accept within the route's connect timeout. */
export class ConnectTimeoutError extends StreamError {
  override name = "ConnectTimeoutError";

  constructor(
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    super(`connect to ${target} timed out after ${timeoutMs} ms`);
  }
}

/** Every target of a route is down (refused or timed out recently): the client is closed at once. */
export class NoTargetError extends StreamError {
  override name = "NoTargetError";

  constructor(readonly route: string) {
    super(`route ${route}: every target is down`);
  }
}

/** The edge handed over a connection for a route this worker's config does not have (a reload race). */
export class UnknownRouteError extends StreamError {
  override name = "UnknownRouteError";

  constructor(readonly route: string) {
    super(`no forward route named ${JSON.stringify(route)} in this worker's config`);
  }
}

/** The native splice relay could not be loaded or started. */
export class RelayError extends StreamError {
  override name = "RelayError";
}
