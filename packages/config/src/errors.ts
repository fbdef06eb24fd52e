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
