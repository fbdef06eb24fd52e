import type { FirewallSection, LoadedConfig } from "@switchyard/config";
import { buildRuleset, type Ruleset } from "./ruleset/ruleset.js";

/** The firewall section with the ruleset built from it and the engine nftables routes. */
export interface FirewallSettings {
  firewall: FirewallSection;
  ruleset: Ruleset;
}

/** The firewall section to typed settings: used at start and on reload (serviceMain's `settings`). */
export function firewallSettings(firewall: FirewallSection, config: LoadedConfig): FirewallSettings {
  return { firewall, ruleset: buildRuleset(firewall, config.effectiveRoutes) };
}
