/** The help texts: general (every group and its commands) and per command. */
import type { Command, CommandGroup, OptionSpec } from "./command.js";

export function generalHelp(
  groups: readonly CommandGroup[],
  globalOptions: Readonly<Record<string, OptionSpec>>,
): string {
  const sections = groups.map((group) => {
    const rows = group.commands.map((c): [string, string] => [synopsis(c), c.summary]);
    return `${group.title} commands:\n${columns(rows)}`;
  });
  return [
    "yardctl: the Switchyard admin CLI",
    "",
    "Usage: yardctl <command> [arguments] [options]",
    "",
    ...sections.flatMap((s) => [s, ""]),
    `Options for every command:\n${optionRows(globalOptions)}`,
    "",
    "`yardctl help <command>` or `yardctl <command> --help` shows a command's help.",
  ].join("\n");
}

/** After a usage error: the synopsis of every command, without the options. */
export function generalUsage(groups: readonly CommandGroup[]): string {
  const rows = groups.flatMap((g) => g.commands.map((c): [string, string] => [synopsis(c), c.summary]));
  return [
    "Usage: yardctl <command> [arguments] [options]",
    "",
    columns(rows),
    "",
    "`yardctl help` shows the options.",
  ].join("\n");
}

/** After a usage error in a command: its synopsis. */
export function commandUsage(command: Command): string {
  return `Usage: yardctl ${synopsis(command)} [options]\n\`yardctl help ${command.name}\` shows its options.`;
}

export function commandHelp(command: Command, globalOptions: Readonly<Record<string, OptionSpec>>): string {
  const own = command.options && Object.keys(command.options).length > 0 ? command.options : undefined;
  return [
    `Usage: yardctl ${synopsis(command)} [options]`,
    "",
    command.summary,
    "",
    ...(own ? [`Options:\n${optionRows(own)}`, ""] : []),
    `Options for every command:\n${optionRows(globalOptions)}`,
  ].join("\n");
}

/** `drain <worker-id>`, `workers [--pool P]`. */
function synopsis(command: Command): string {
  const args = (command.args ?? []).map((a) => (a.endsWith("?") ? `[${a.slice(0, -1)}]` : `<${a}>`));
  const options = Object.entries(command.options ?? {}).map(([name, spec]) => `[${flag(name, spec)}]`);
  return [command.name, ...args, ...options].join(" ");
}

function optionRows(options: Readonly<Record<string, OptionSpec>>): string {
  return columns(
    Object.entries(options).map(([name, spec]): [string, string] => [
      (spec.short ? `-${spec.short}, ` : "") + flag(name, spec),
      spec.description,
    ]),
  );
}

function flag(name: string, spec: OptionSpec): string {
  return spec.type === "string" ? `--${name} ${spec.value ?? "VALUE"}` : `--${name}`;
}

function columns(rows: ReadonlyArray<[string, string]>): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`).join("\n");
}
