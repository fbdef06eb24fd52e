import { ZoneFileError } from "../errors.js";
import type { Token } from "../wire/rdata-parser.js";

export interface Entry {
  line: number;
  /** The line began with a blank: the owner is the previous one. */
  inheritOwner: boolean;
  tokens: Token[];
}

/** Splits a master file into logical entries: parentheses joined, comments dropped, quotes kept. */
export function entries(text: string, file: string): Entry[] {
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
