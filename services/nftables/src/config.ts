import { type FirewallSection, type LoadedConfig, loadConfig } from "@switchyard/config";
import { StartupError } from "@switchyard/runtime";
import { buildRuleset, type Ruleset } from "./ruleset.js";

export interface FirewallConfig {
  config: LoadedConfig;
  firewall: FirewallSection;
  ruleset: Ruleset;
}

/** Reads the config file and builds the ruleset from its firewall section and engine nftables routes. */
export async function loadFirewallConfig(path: string): Promise<FirewallConfig> {
  const config = await loadConfig(path);
  if (!config.firewall) throw new StartupError(`${path} has no firewall section`);
  return {
    config,
    firewall: config.firewall,
    ruleset: buildRuleset(config.firewall, config.effectiveRoutes),
  };
}
