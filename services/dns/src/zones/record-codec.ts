import { createHash } from "node:crypto";
import { NATS_BUCKETS } from "@switchyard/runtime";
import { DynamicRecordError, RDataError } from "../errors.js";
import { canonical } from "../wire/names.js";
import { parseRData, tokenizeRData } from "../wire/rdata-parser.js";
import { type ResourceRecord, type RRTypeName, rdataText, txtStrings } from "../wire/records.js";

/** The KV bucket UpsertRecord writes and every replica watches. */
export const RECORDS_BUCKET = NATS_BUCKETS.dnsRecords;
/** The certs service's bucket; dns reads its `dns01.*` keys (see docs/architecture.md, "Fan-out"). */
export const ACME_BUCKET = NATS_BUCKETS.acme;
export const ACME_FILTER = "dns01.>";
/** TTL of served DNS-01 TXT answers. */
export const ACME_TTL = 10;

/** Types a record may have through the API (SOA belongs to the zone's config). */
export const DYNAMIC_TYPES: readonly RRTypeName[] = [
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "TXT",
  "NS",
  "SRV",
  "CAA",
  "PTR",
];

const MAX_TTL = 2147483647;

/** What the `dns-records` bucket stores per key: presentation form, absolute names. */
export interface StoredRecord {
  name: string;
  type: string;
  ttl: number;
  value: string;
}

/** Parses an API or KV record: names absolute, RDATA validated. Throws DynamicRecordError. */
export function parseStoredRecord(input: StoredRecord): ResourceRecord {
  const name = canonical(String(input.name ?? "").trim());
  if (name === "") throw new DynamicRecordError("name is empty");
  const type = String(input.type ?? "").toUpperCase() as RRTypeName;
  if (!DYNAMIC_TYPES.includes(type)) {
    throw new DynamicRecordError(
      `type ${JSON.stringify(input.type)} cannot be set (one of ${DYNAMIC_TYPES.join(", ")})`,
    );
  }
  const ttl = Number(input.ttl);
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    throw new DynamicRecordError(`ttl ${JSON.stringify(input.ttl)} is not a number from 0 to ${MAX_TTL}`);
  }
  const value = String(input.value ?? "");
  try {
    const tokens =
      type === "A" || type === "AAAA" ? [{ text: value.trim(), quoted: false }] : tokenizeRData(value);
    return { name, ttl, data: parseRData(type, tokens, "") };
  } catch (err) {
    if (err instanceof RDataError)
      throw new DynamicRecordError(`${type} value: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The record in the form the bucket stores. */
export function storedForm(rr: ResourceRecord): StoredRecord {
  return { name: rr.name, type: rr.data.type, ttl: rr.ttl, value: rdataText(rr.data) };
}

/** `<zone token>.<first 32 hex of sha256(name \n type \n value)>`: one key per record, TTL aside. */
export function recordKey(zone: string, rr: ResourceRecord): string {
  const id = createHash("sha256")
    .update(`${rr.name}\n${rr.data.type}\n${rdataText(rr.data)}`)
    .digest("hex")
    .slice(0, 32);
  return `${zoneToken(zone)}.${id}`;
}

/** The zone a record key names (deleted keys have no value, so the key must say). */
export function zoneOfKey(key: string): string | undefined {
  const dot = key.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const token = key.slice(0, dot);
  if (token === "=") return "";
  if (token.startsWith("=")) return Buffer.from(token.slice(1), "hex").toString("latin1");
  return token;
}

function zoneToken(zone: string): string {
  if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(zone)) return zone;
  return `=${Buffer.from(zone, "latin1").toString("hex")}`;
}

/** A `dns01.<id>` value: the TXT record it asks for, or an error saying why it is not served. */
export function parseAcmeValue(bytes: Uint8Array): ResourceRecord {
  let parsed: { name?: unknown; value?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw new DynamicRecordError("not JSON", { cause: err });
  }
  if (typeof parsed?.name !== "string" || typeof parsed.value !== "string")
    throw new DynamicRecordError('expected {"name": string, "value": string}');
  const name = canonical(parsed.name);
  if (!name.startsWith("_acme-challenge."))
    throw new DynamicRecordError(`${JSON.stringify(parsed.name)} is not an _acme-challenge name`);
  return { name, ttl: ACME_TTL, data: { type: "TXT", strings: txtStrings(parsed.value) } };
}
