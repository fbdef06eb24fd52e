import { Zone } from "../zones/zone.js";
import { ZoneSet } from "../zones/zone-set.js";
import type { ZoneKeySet } from "./zone-key-set.js";

/** DNSKEY TTL, as Knot's default for online signing. */
export const DNSKEY_TTL = 3600;

/** The zones with each signed zone's DNSKEY RRset (every key of its set), CDS and CDNSKEY added at its apex. */
export function publishKeys(zones: ZoneSet, keys: ReadonlyMap<string, ZoneKeySet>): ZoneSet {
  if (keys.size === 0) return zones;
  return new ZoneSet(
    zones.zones.map((zone) => {
      const key = keys.get(zone.origin);
      if (!key) return zone;
      return new Zone(zone.origin, [...zone.records(), ...key.apexRecords(DNSKEY_TTL)], zone.dnssec);
    }),
  );
}
