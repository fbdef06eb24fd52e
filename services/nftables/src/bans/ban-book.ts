import { contains, type Network, outermost } from "../ruleset/nft-values.js";
import type { BanElement } from "../ruleset/ruleset.js";

export interface Ban {
  network: Network;
  /** Unix ms when it ends. */
  until: number;
  reason: string;
  source: string;
  createdAt: number;
}

/** A change to the kernel's ban sets: elements to add, or whole families to rewrite. */
export interface BanPlan {
  add: BanElement[];
  replace: Map<4 | 6, BanElement[]>;
  /** What the kernel holds once the plan is applied. */
  next: Map<string, Ban>;
}

/** An element that should have expired this recently may still be in the kernel (clocks differ). */
const EXPIRY_GRACE_MS = 2000;

/**
 * The active bans, and what the kernel's ban sets hold. The kernel refuses overlapping intervals,
 * so only the outermost bans go in (a /24 ban hides a ban of one of its addresses); a hidden ban
 * that outlives the one hiding it goes in when that one expires (the next plan adds it).
 */
export class BanBook {
  private readonly bans = new Map<string, Ban>();
  private kernel = new Map<string, Ban>();

  get size(): number {
    return this.bans.size;
  }

  list(): Ban[] {
    return [...this.bans.values()].sort((a, b) => a.until - b.until);
  }

  get(network: Network): Ban | undefined {
    return this.bans.get(network.text);
  }

  /** Adds or extends a ban; a ban never gets shorter by being added again. Returns what is stored. */
  upsert(ban: Ban): Ban {
    const existing = this.bans.get(ban.network.text);
    if (existing && existing.until >= ban.until) return existing;
    this.bans.set(ban.network.text, ban);
    return ban;
  }

  remove(network: Network): Ban | undefined {
    const ban = this.bans.get(network.text);
    this.bans.delete(network.text);
    return ban;
  }

  /** Removes and returns the bans that have ended. */
  expire(now: number): Ban[] {
    const ended = [...this.bans.values()].filter((b) => b.until <= now);
    for (const b of ended) this.bans.delete(b.network.text);
    return ended;
  }

  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const b of this.bans.values()) if (next === undefined || b.until < next) next = b.until;
    return next;
  }

  /** The bans the kernel should hold now: the outermost active ones. */
  private desired(now: number): Map<string, Ban> {
    const active = [...this.bans.values()].filter((b) => b.until > now);
    const keep = new Set(outermost(active.map((b) => b.network)).map((n) => n.text));
    return new Map(active.filter((b) => keep.has(b.network.text)).map((b) => [b.network.text, b]));
  }

  /** Elements for a full table apply; the caller calls `committed` once nft took them. */
  elements(now: number): { elements: BanElement[]; next: Map<string, Ban> } {
    const next = this.desired(now);
    return { elements: [...next.values()].map((b) => element(b, now)), next };
  }

  /** What to change in the kernel to match the bans; null when nothing. */
  plan(now: number): BanPlan | null {
    const next = this.desired(now);
    const add: BanElement[] = [];
    const replace = new Map<4 | 6, BanElement[]>();
    for (const family of [4, 6] as const) {
      const want = [...next.values()].filter((b) => b.network.family === family);
      const have = [...this.kernel.values()].filter(
        (b) => b.network.family === family && b.until > now - EXPIRY_GRACE_MS,
      );
      const unchanged = have.every((b) => next.get(b.network.text)?.until === b.until);
      const fresh = want.filter(
        (b) =>
          !this.kernel.has(b.network.text) ||
          (this.kernel.get(b.network.text)?.until ?? 0) <= now - EXPIRY_GRACE_MS,
      );
      const overlaps = fresh.some((b) =>
        have.some((h) => contains(h.network, b.network) || contains(b.network, h.network)),
      );
      if (unchanged && !overlaps) add.push(...fresh.map((b) => element(b, now)));
      else
        replace.set(
          family,
          want.map((b) => element(b, now)),
        );
    }
    if (add.length === 0 && replace.size === 0) {
      this.kernel = next;
      return null;
    }
    return { add, replace, next };
  }

  /** Records what the kernel holds after a successful apply. */
  committed(next: Map<string, Ban>): void {
    this.kernel = next;
  }

  /** The network texts the kernel should hold now, give or take bans about to end. */
  expectedInKernel(now: number): { sure: Set<string>; maybe: Set<string> } {
    const sure = new Set<string>();
    const maybe = new Set<string>();
    for (const b of this.kernel.values()) {
      if (b.until > now + EXPIRY_GRACE_MS) sure.add(b.network.text);
      else if (b.until > now - EXPIRY_GRACE_MS) maybe.add(b.network.text);
    }
    return { sure, maybe };
  }
}

function element(ban: Ban, now: number): BanElement {
  return { network: ban.network, timeoutMs: ban.until - now };
}
