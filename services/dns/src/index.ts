export { loadZone, loadZones } from "./config.js";
export { EncodeError, ZoneError, ZoneFileError } from "./errors.js";
export { type ParsedQuery, type ParseResult, parseQuery, Rcode } from "./query-parser.js";
export type { RData, ResourceRecord } from "./records.js";
export { type Answer, resolve } from "./resolver.js";
export { Responder } from "./responder.js";
export { Zone } from "./zone.js";
export { parseZoneFile } from "./zone-file.js";
export { ZoneSet } from "./zone-set.js";
