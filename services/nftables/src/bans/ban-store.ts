import { type KV, NATS_BUCKETS } from "@switchyard/runtime";
import { type Network, network } from "../ruleset/nft-values.js";
import type { Ban } from "./ban-book.js";
import { storedBanSchema } from "./ban-request.js";

/** The KV bucket bans live in, so they outlast an agent restart (and reach every agent). */
export const BANS_BUCKET = NATS_BUCKETS.firewallBans;

/** KV keys allow `[-/_=.a-zA-Z0-9]`: `2001:db8::/32` → `2001-db8--_32`. */
export function banKey(net: Network): string {
  return net.text.replaceAll(":", "-").replace("/", "_");
}

/** Bans in NATS KV, one key per network. */
export class BanStore {
  constructor(private readonly kv: KV) {}

  /** Every stored ban still running; ended and unreadable keys are deleted. */
  async load(now: number): Promise<{ bans: Ban[]; dropped: string[] }> {
    const bans: Ban[] = [];
    const dropped: string[] = [];
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== "PUT") continue;
      let ban: Ban | undefined;
      try {
        const stored = storedBanSchema.parse(entry.json());
        ban = { ...stored, network: network(stored.address, `${BANS_BUCKET}.${key}`) };
      } catch {
        ban = undefined;
      }
      if (ban === undefined || ban.until <= now || banKey(ban.network) !== key) {
        dropped.push(key);
        await this.kv.delete(key);
      } else bans.push(ban);
    }
    return { bans, dropped };
  }

  async put(ban: Ban): Promise<void> {
    const { network: net, ...rest } = ban;
    await this.kv.put(banKey(net), JSON.stringify({ address: net.text, ...rest }));
  }

  async remove(net: Network): Promise<void> {
    await this.kv.delete(banKey(net));
  }
}
