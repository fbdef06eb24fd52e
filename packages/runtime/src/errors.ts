/** A config file could not be read or does not hold a valid config. */
export class ConfigFileError extends Error {
  override name = "ConfigFileError";
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A secret file (admin token, key) is missing, empty or unreadable. */
export class SecretFileError extends Error {
  override name = "SecretFileError";
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A service could not start: a listener, a connection or a dependency failed. */
export class StartupError extends Error {
  override name = "StartupError";
}

/** A connection to NATS or one of its JetStream resources failed. */
export class NatsError extends Error {
  override name = "NatsError";
}
