export { type Ban, BanBook } from "./bans/ban-book.js";
export { parseBanRequest } from "./bans/ban-request.js";
export { BANS_BUCKET, BanStore, banKey } from "./bans/ban-store.js";
export {
  BanError,
  BanRequestError,
  CapabilityError,
  FirewallError,
  NftError,
  RulesetInputError,
} from "./errors.js";
export { FirewallAgent } from "./firewall-agent.js";
export { hasNetAdmin, requireNetAdmin } from "./nft/capabilities.js";
export { NftRunner } from "./nft/nft-runner.js";
export { readTableState } from "./nft/table-state.js";
export { renderBanUpdate, renderRuleset } from "./ruleset/render.js";
export { type BanElement, buildRuleset, type Ruleset } from "./ruleset/ruleset.js";
