/** A config file that cannot be read, parsed or validated. `problems` holds one line per problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    message: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(problems.length > 0 ? `${message}:\n  ${problems.join("\n  ")}` : message, options);
  }
}

/** The config file is valid but lacks the section a service needs to run (every service throws this one). */
export class MissingSectionError extends ConfigError {
  override name = "MissingSectionError";
  constructor(
    readonly file: string,
    readonly section: string,
  ) {
    super(`${file} has no ${section} section: the ${section} service has nothing to do`, []);
  }
}
