/** Base of every error the nftables agent raises; `cause` carries what went wrong below. */
export class FirewallError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value that must not reach nft: not an address, a port out of range, text with nft syntax in it. */
export class RulesetInputError extends FirewallError {
  override name = "RulesetInputError";
  constructor(
    /** Where the value came from, e.g. `firewall.blockList[2]` or `ban address`. */
    readonly path: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${problem}`, options);
  }
}

/** `nft` failed: the kernel (or nft itself) refused the ruleset, or nft could not run. */
export class NftError extends FirewallError {
  override name = "NftError";
  constructor(
    message: string,
    /** What nft printed on stderr, trimmed. */
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(stderr ? `${message}: ${stderr}` : message, options);
  }
}

/** The process lacks CAP_NET_ADMIN, without which no nftables change is possible. */
export class CapabilityError extends FirewallError {
  override name = "CapabilityError";
}

/** A ban request that cannot be applied (a trusted address, a network too broad). */
export class BanError extends FirewallError {
  override name = "BanError";
}

/** A `firewall.ban` message that is not JSON or not the ban request shape; the message says what is wrong. */
export class BanRequestError extends FirewallError {
  override name = "BanRequestError";
}
