/** A CIDR (or address) string from configuration that cannot be used. */
export class CidrError extends Error {
  override readonly name = "CidrError";
  /** The text that was rejected, as given. */
  readonly input: string;

  constructor(input: string, problem: string, options?: { cause?: unknown }) {
    super(`${JSON.stringify(input)} is not a CIDR: ${problem}`, options);
    this.input = input;
  }
}
