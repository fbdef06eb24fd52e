import { Zone } from "../zones/zone.js";
import { ZoneSet } from "../zones/zone-set.js";
import type { ZoneKey } from "./zone-key.js";

/** DNSKEY TTL, as Knot's default for online signing. */
export const DNSKEY_TTL = 3600;

/** The zones with each signed zone's DNSKEY, CDS and CDNSKEY added at its apex. */
export function publishKeys(zones: ZoneSet, keys: ReadonlyMap<string, ZoneKey>): ZoneSet {
  if (keys.size === 0) return zones;
  return new ZoneSet(
    zones.zones.map((zone) => {
      const key = keys.get(zone.origin);
      if (!key) return zone;
      return new Zone(zone.origin, [...zone.records(), ...key.apexRecords(DNSKEY_TTL)], zone.dnssec);
    }),
  );
}
