import { RDataError, ZoneFileError } from "../errors.js";
import { absolute, canonical } from "../wire/names.js";
import { parseRData, parseTtl, type Token } from "../wire/rdata-parser.js";
import { type ResourceRecord, RRType, type RRTypeName } from "../wire/records.js";
import { entries } from "./zone-file-lexer.js";

const typeSet = new Set(Object.keys(RRType).filter((t) => t !== "OPT"));

/**
 * Parses an RFC 1035 master file: $ORIGIN, $TTL, relative names, `@`, omitted owners, parentheses,
 * comments, quoted strings. Throws ZoneFileError with file:line.
 */
export function parseZoneFile(
  text: string,
  options: { file: string; origin: string; defaultTtl: number },
): ResourceRecord[] {
  const { file } = options;
  let origin = canonical(options.origin);
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let owner: string | undefined;
  const records: ResourceRecord[] = [];
  for (const entry of entries(text, file)) {
    const fail = (problem: string, cause?: unknown): never => {
      throw new ZoneFileError(file, entry.line, problem, cause ? { cause } : undefined);
    };
    const tokens = [...entry.tokens];
    const first = tokens[0] as Token;
    if (!entry.inheritOwner && !first.quoted && first.text.startsWith("$")) {
      const directive = first.text.toUpperCase();
      if (directive === "$ORIGIN") {
        if (tokens.length !== 2) fail("$ORIGIN takes one name");
        origin = absolute((tokens[1] as Token).text, origin);
      } else if (directive === "$TTL") {
        const ttl = parseTtl(tokens[1]?.text ?? "");
        if (tokens.length !== 2 || ttl === undefined)
          fail(`$TTL: ${JSON.stringify(tokens[1]?.text ?? "")} is not a TTL`);
        defaultTtl = ttl;
      } else fail(`${first.text} is not supported`);
      continue;
    }
    if (!entry.inheritOwner) {
      owner = absolute((tokens.shift() as Token).text, origin);
    } else if (owner === undefined) fail("no owner name and no previous record");
    let ttl: number | undefined;
    let type: RRTypeName | undefined;
    while (tokens.length > 0 && type === undefined) {
      const t = (tokens.shift() as Token).text;
      const upper = t.toUpperCase();
      const asTtl = parseTtl(t);
      if (asTtl !== undefined && ttl === undefined) ttl = asTtl;
      else if (upper === "IN") continue;
      else if (typeSet.has(upper)) type = upper as RRTypeName;
      else if (["CH", "HS", "CS"].includes(upper)) fail(`class ${t} is not served (only IN)`);
      else fail(`${JSON.stringify(t)} is not a known type`);
    }
    if (!type) fail("record without a type");
    let data: ResourceRecord["data"];
    try {
      data = parseRData(type as RRTypeName, tokens, origin);
    } catch (err) {
      if (err instanceof RDataError) fail(`${type}: ${err.message}`, err);
      throw err;
    }
    // RFC 2308: $TTL, else the last explicit TTL, else the SOA minimum, else the configured default.
    const effective =
      ttl ?? defaultTtl ?? lastTtl ?? (data.type === "SOA" ? data.minimum : undefined) ?? options.defaultTtl;
    if (ttl !== undefined) lastTtl = ttl;
    records.push({ name: owner as string, ttl: effective, data });
  }
  return records;
}
