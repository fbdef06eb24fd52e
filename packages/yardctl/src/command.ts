import type { Client } from "@grpc/grpc-js";
import type { GrpcClientConstructor, RequestOf, ResponseOf, UnaryMethodName } from "@switchyard/runtime";
import type { ServiceName } from "./settings.js";

/** A command-line option. One name has one type across all commands (the dispatcher relies on it). */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in help for a string option: `--pool P`. */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** What a command's `run` gets: its arguments, output, and calls to the admin APIs. */
export interface CommandContext {
  /** Positional arguments by the names in `Command.args`. */
  args: Record<string, string>;
  options: OptionValues;
  /** `--json`: print responses as JSON instead of tables. */
  json: boolean;
  now(): number;
  /** Writes text and a newline to stdout. */
  out(text: string): void;
  /** Writes text and a newline to stderr. */
  err(text: string): void;
  /** Prints `response` as JSON with `--json`, else the text `human()` returns. */
  print(response: unknown, human: () => string): void;
  /** One unary call to a service's admin API with the resolved address and token, 5 s deadline. */
  call<C extends Client, M extends UnaryMethodName<C>>(
    service: ServiceName,
    ClientCtor: GrpcClientConstructor<C>,
    method: M,
    request: RequestOf<C[M]>,
  ): Promise<ResponseOf<C[M]>>;
}

export interface Command {
  /** The words after `yardctl`: `workers`, or `dns zones` in a group. */
  name: string;
  /**
   * Positional arguments, e.g. `["worker-id"]`: required, `"value?"` optional (only last), or
   * `"value..."` the rest of the words joined with spaces (only last, at least one).
   */
  args?: readonly string[];
  options?: Readonly<Record<string, OptionSpec>>;
  /** One line for the help. */
  summary: string;
  /** Resolves with the exit code; undefined means 0. Failures throw CliError. */
  run(ctx: CommandContext): Promise<number | undefined>;
}

/** The commands of one area (edge, dns, mail, ...), defined in one file under commands/. */
export interface CommandGroup {
  /** Heading in the help. */
  title: string;
  commands: readonly Command[];
}
