import { RDataError, ZoneFileError } from "../errors.js";
import { absolute, canonical } from "../wire/names.js";
import { parseRData, parseTtl, type Token } from "../wire/rdata-parser.js";
import { type ResourceRecord, RRType, type RRTypeName } from "../wire/records.js";

interface Entry {
  line: number;
  /** The line began with a blank: the owner is the previous one. */
  inheritOwner: boolean;
  tokens: Token[];
}

/** Splits a master file into logical entries: parentheses joined, comments dropped, quotes kept. */
function entries(text: string, file: string): Entry[] {
  const out: Entry[] = [];
  let current: Entry | undefined;
  let depth = 0;
  let openedAt = 0;
  let line = 1;
  let i = 0;
  let atLineStart = true;
  const flush = () => {
    if (current && current.tokens.length > 0) out.push(current);
    current = undefined;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\n") {
      line++;
      i++;
      if (depth === 0) flush();
      atLineStart = true;
      continue;
    }
    if (!current) current = { line, inheritOwner: atLineStart && (c === " " || c === "\t"), tokens: [] };
    atLineStart = false;
    if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === ";") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "(") {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
    } else if (c === ")") {
      if (depth === 0) throw new ZoneFileError(file, line, "')' without '('");
      depth--;
      i++;
    } else if (c === '"') {
      let s = "";
      const start = line;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < text.length) {
          s += text.slice(i, i + 2);
          i += 2;
          continue;
        }
        if (text[i] === "\n") line++;
        s += text[i];
        i++;
      }
      if (i >= text.length) throw new ZoneFileError(file, start, "unterminated quoted string");
      i++;
      current.tokens.push({ text: s, quoted: true });
    } else {
      let s = "";
      while (i < text.length && !/[\s;()"]/.test(text[i] as string)) {
        if (text[i] === "\\" && i + 1 < text.length) {
          s += text.slice(i, i + 2);
          i += 2;
          continue;
        }
        s += text[i];
        i++;
      }
      current.tokens.push({ text: s, quoted: false });
    }
  }
  if (depth > 0) throw new ZoneFileError(file, openedAt, "'(' never closed");
  flush();
  return out;
}

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
