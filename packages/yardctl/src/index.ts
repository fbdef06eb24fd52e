export { globalOptions, type RunOptions, run } from "./cli.js";
export type { Command, CommandContext, CommandGroup, OptionSpec } from "./command.js";
export { AdminCallError, CliError, SettingsError, UsageError } from "./errors.js";
export { resolveSettings, type Settings, type SettingsSources } from "./settings.js";
