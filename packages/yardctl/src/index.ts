export { AdminConnections, CALL_DEADLINE_MS } from "./admin-connections.js";
export { globalOptions, type RunOptions, run } from "./cli.js";
export type { Command, CommandContext, CommandGroup, OptionSpec } from "./command.js";
export { AdminCallError, CliError, SettingsError, UsageError } from "./errors.js";
export {
  isHostPort,
  resolveSettings,
  SERVICES,
  type ServiceName,
  type Settings,
  type SettingsSources,
} from "./settings.js";
