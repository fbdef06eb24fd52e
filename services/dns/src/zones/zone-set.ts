import { isAtOrBelow, parentOf } from "../wire/names.js";
import type { Zone } from "./zone.js";

/** The zones served, found by the longest origin a name is at or below. */
export class ZoneSet {
  private readonly byOrigin = new Map<string, Zone>();

  constructor(zones: readonly Zone[]) {
    for (const z of zones) this.byOrigin.set(z.origin, z);
  }

  get zones(): Zone[] {
    return [...this.byOrigin.values()];
  }

  get(origin: string): Zone | undefined {
    return this.byOrigin.get(origin);
  }

  /** The most specific zone holding `name`, or undefined (then the answer is REFUSED). */
  find(name: string): Zone | undefined {
    for (let n = name; ; n = parentOf(n)) {
      const zone = this.byOrigin.get(n);
      if (zone && isAtOrBelow(name, zone.origin)) return zone;
      if (n === "") return undefined;
    }
  }
}
