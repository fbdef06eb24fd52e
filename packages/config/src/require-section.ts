import { MissingSectionError } from "./errors.js";
import type { LoadedConfig } from "./load-config.js";

/** The names of the config's sections a service can run from. */
export type SectionName = "edge" | "dns" | "mail" | "certs" | "firewall" | "stream" | "http";

/** The section a service runs from, or MissingSectionError naming the file and the section. */
export function requireSection<K extends SectionName>(
  config: LoadedConfig,
  name: K,
): NonNullable<LoadedConfig[K]> {
  const section = config[name];
  if (section === undefined || section === null) throw new MissingSectionError(config.source, name);
  return section as NonNullable<LoadedConfig[K]>;
}
