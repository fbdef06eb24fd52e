export { type Answer, resolve } from "./answer/resolver.js";
export { Responder } from "./answer/responder.js";
export { EncodeError, ZoneError, ZoneFileError } from "./errors.js";
export { type ParsedQuery, type ParseResult, parseQuery, Rcode } from "./wire/query-parser.js";
export type { RData, ResourceRecord } from "./wire/records.js";
export { Zone } from "./zones/zone.js";
export { parseZoneFile } from "./zones/zone-file.js";
export { loadZone, loadZones } from "./zones/zone-loader.js";
export { ZoneSet } from "./zones/zone-set.js";
