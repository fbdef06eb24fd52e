/**
 * The dispatcher: finds the command named by the leading words of the command line in the groups'
 * tables, parses its options strictly, runs it, and turns failures into a message and an exit code
 * (1 for failures, 2 for usage errors).
 */
import { parseArgs } from "node:util";
import { AdminConnections } from "./admin-connections.js";
import type { Command, CommandContext, CommandGroup, OptionSpec, OptionValues } from "./command.js";
import { commandGroups } from "./commands/index.js";
import { CliError, UsageError } from "./errors.js";
import { commandHelp, commandUsage, generalHelp, generalUsage } from "./help.js";
import { resolveSettings, type Settings, settingsOptions } from "./settings.js";

const outputOptions: Readonly<Record<string, OptionSpec>> = {
  json: { type: "boolean", description: "print the raw response as JSON (for scripts)" },
  help: { type: "boolean", short: "h", description: "show help" },
};

export const globalOptions: Readonly<Record<string, OptionSpec>> = { ...settingsOptions, ...outputOptions };

export interface RunOptions {
  /** Receive whole chunks of output, newlines included. */
  stdout(text: string): void;
  stderr(text: string): void;
  /** Passed to the settings; default process.env and process.cwd(). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  now?: () => number;
  /** Default: every group in commands/. */
  groups?: readonly CommandGroup[];
}

/** Runs one command line (without `node yardctl`) and resolves with the exit code. */
export async function run(argv: readonly string[], io: RunOptions): Promise<number> {
  const groups = io.groups ?? commandGroups;
  const commands = groups.flatMap((g) => g.commands);
  const usage = generalUsage(groups);
  let command: Command | undefined;
  try {
    const words = leadingWords(argv, [globalOptions, ...commands.map((c) => c.options ?? {})]);
    if (words[0] === "help" || words.length === 0) {
      const wanted = words.slice(1);
      if (wanted.length === 0) {
        if (words.length === 0 && !argv.some((a) => a === "--help" || a === "-h")) {
          throw new UsageError("missing command", usage);
        }
        io.stdout(`${generalHelp(groups, globalOptions)}\n`);
        return 0;
      }
      const target = findCommand(commands, wanted);
      if (target === undefined) throw unknownCommand(wanted, commands, usage);
      io.stdout(`${commandHelp(target, globalOptions)}\n`);
      return 0;
    }

    command = findCommand(commands, words);
    if (command === undefined) throw unknownCommand(words, commands, usage);
    const { values, positionals } = parseCommandLine(argv, command);
    if (values.help === true) {
      io.stdout(`${commandHelp(command, globalOptions)}\n`);
      return 0;
    }
    const args = bindArgs(command, positionals.slice(command.name.split(" ").length));
    return await runCommand(command, args, values, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const shown = error.usage ?? (command ? commandUsage(command) : usage);
      io.stderr(`yardctl: ${error.message}\n\n${shown}\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.stderr(`yardctl: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

async function runCommand(
  command: Command,
  args: Record<string, string>,
  options: OptionValues,
  io: RunOptions,
): Promise<number> {
  let settings: Promise<Settings> | undefined;
  const connections = new AdminConnections(() => {
    settings ??= resolveSettings({ options, env: io.env, cwd: io.cwd });
    return settings;
  });
  const json = options.json === true;
  const out = (text: string) => io.stdout(`${text}\n`);
  const ctx: CommandContext = {
    args,
    options,
    json,
    now: io.now ?? Date.now,
    out,
    err: (text) => io.stderr(`${text}\n`),
    print: (response, human) => out(json ? JSON.stringify(response, null, 2) : human()),
    call: (service, ClientCtor, method, request) => connections.call(service, ClientCtor, method, request),
  };
  try {
    return (await command.run(ctx)) ?? 0;
  } finally {
    connections.close();
  }
}

/**
 * The positional words of the command line, which start with the command's name. Knows which
 * options take a value from every command's table, so `--pool p workers` finds `workers`.
 */
function leadingWords(
  argv: readonly string[],
  tables: ReadonlyArray<Readonly<Record<string, OptionSpec>>>,
): string[] {
  const takesValue = new Set<string>();
  for (const table of tables) {
    for (const [name, spec] of Object.entries(table)) {
      if (spec.type !== "string") continue;
      takesValue.add(`--${name}`);
      if (spec.short) takesValue.add(`-${spec.short}`);
    }
  }
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("-") && arg !== "-") {
      if (takesValue.has(arg)) i++;
      continue;
    }
    words.push(arg);
  }
  return words;
}

/** The command whose name is the longest prefix of `words`. */
function findCommand(commands: readonly Command[], words: readonly string[]): Command | undefined {
  let best: Command | undefined;
  let bestLength = 0;
  for (const command of commands) {
    const name = command.name.split(" ");
    if (name.length > bestLength && name.every((w, i) => words[i] === w)) {
      best = command;
      bestLength = name.length;
    }
  }
  return best;
}

function unknownCommand(words: readonly string[], commands: readonly Command[], usage: string): UsageError {
  const group = commands.filter((c) => c.name.startsWith(`${words[0]} `));
  if (group.length > 0) {
    const list = group.map((c) => c.name).join(", ");
    const what =
      words.length > 1 ? `unknown command "${words.slice(0, 2).join(" ")}"` : `"${words[0]}" needs a command`;
    return new UsageError(`${what}: one of ${list}`, usage);
  }
  return new UsageError(`unknown command "${words[0]}"`, usage);
}

function parseCommandLine(argv: readonly string[], command: Command) {
  const specs = { ...globalOptions, ...command.options };
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      spec.short ? { type: spec.type, short: spec.short } : { type: spec.type },
    ]),
  );
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error as Error, command), undefined, { cause: error });
  }
}

function describeParseError(error: Error & { code?: string }, command: Command): string {
  const option = /'(-[^' ]+)/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option} for "${command.name}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `option ${option} needs a value`;
    default:
      return error.message;
  }
}

function bindArgs(command: Command, positionals: readonly string[]): Record<string, string> {
  const specs = command.args ?? [];
  const last = specs[specs.length - 1] ?? "";
  const rest = last.endsWith("...");
  const required = specs.filter((a) => !a.endsWith("?")).length;
  const bare = (a: string) => a.replace(/(\?|\.\.\.)$/, "");
  if (positionals.length < required) {
    throw new UsageError(`"${command.name}" needs <${bare(specs[positionals.length] ?? "")}>`);
  }
  if (!rest && positionals.length > specs.length) {
    throw new UsageError(`unexpected argument "${positionals[specs.length]}" for "${command.name}"`);
  }
  const args = Object.fromEntries(specs.map((name, i) => [bare(name), positionals[i] ?? ""]));
  if (rest) args[bare(last)] = positionals.slice(specs.length - 1).join(" ");
  return args;
}
