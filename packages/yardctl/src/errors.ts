import { type ServiceError, status } from "@grpc/grpc-js";

/** A failure yardctl reports as one line on stderr; the process exits with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number = 1;
}

/** The command line itself is wrong (unknown command or option, missing argument): exit 2, usage shown. */
export class UsageError extends CliError {
  override name = "UsageError";
  override readonly exitCode = 2;
  constructor(
    message: string,
    /** The usage text to print after the message; the dispatcher adds the command's when absent. */
    readonly usage?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Connection settings could not be resolved (bad address, unreadable config or token file). */
export class SettingsError extends CliError {
  override name = "SettingsError";
}

/** A gRPC call to an admin API failed; the message says what a user can do about it. */
export class AdminCallError extends CliError {
  override name = "AdminCallError";
  constructor(
    readonly code: status,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface CallTarget {
  /** "the edge" */
  label: string;
  address: string;
  /** "EdgeAdmin.ListWorkers" */
  method: string;
  tokenFile: string;
}

/** Turns a failed call into the one line a user reads. */
export function describeCallError(error: ServiceError, target: CallTarget): AdminCallError {
  const code = status[error.code] ?? String(error.code);
  const details = error.details || error.message;
  const at = `${target.label} at ${target.address}`;
  let message: string;
  switch (error.code) {
    case status.UNAVAILABLE:
      message = `cannot reach ${at} (is it running? \`npm start\`)`;
      break;
    case status.DEADLINE_EXCEEDED:
      message = `${at} did not answer ${target.method} in time (DEADLINE_EXCEEDED)`;
      break;
    case status.UNAUTHENTICATED:
      message = `${target.label} refused the admin token (UNAUTHENTICATED): ${details}; token file ${target.tokenFile}`;
      break;
    case status.UNIMPLEMENTED:
      message = `${at} does not implement ${target.method} (UNIMPLEMENTED): is it an older version?`;
      break;
    default:
      message = `${target.method} failed: ${details} (${code})`;
  }
  return new AdminCallError(error.code, message, { cause: error });
}
