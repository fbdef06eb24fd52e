/**
 * Names in presentation form, lowercased and without the trailing dot ("" is the root). Labels may
 * hold `\.` and `\\` and `\DDD` escapes, as zone files write them.
 */

/** Splits a name into labels, honouring backslash escapes. */
export function splitLabels(name: string): string[] {
  if (name === "") return [];
  const labels: string[] = [];
  let current = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === "\\" && i + 1 < name.length) {
      current += c + name[i + 1];
      i++;
    } else if (c === ".") {
      labels.push(current);
      current = "";
    } else current += c;
  }
  labels.push(current);
  return labels;
}

/** The label's octets, escapes resolved. */
export function labelBytes(label: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c === 0x5c && i + 1 < label.length) {
      const digits = /^\d{3}/.exec(label.slice(i + 1));
      if (digits) {
        out.push(Number(digits[0]) & 0xff);
        i += 3;
      } else {
        out.push(label.charCodeAt(i + 1) & 0xff);
        i++;
      }
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

/** A label's octets as presentation text (ASCII lowercased, specials escaped). */
export function labelText(bytes: Buffer, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    let c = bytes[i] as number;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c <= 0x20 || c >= 0x7f) s += `\\${String(c).padStart(3, "0")}`;
    else s += String.fromCharCode(c);
  }
  return s;
}

/** Lowercases ASCII only (DNS case-insensitivity, RFC 4343) and drops a trailing dot. */
export function canonical(name: string): string {
  const lower = name.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  return lower.endsWith(".") && !lower.endsWith("\\.") ? lower.slice(0, -1) : lower;
}

/** `name` made absolute against `origin` (`@` is the origin; a trailing dot means absolute). */
export function absolute(name: string, origin: string): string {
  if (name === "@") return origin;
  if (name.endsWith(".") && !name.endsWith("\\.")) return canonical(name);
  const rel = canonical(name);
  return origin === "" ? rel : `${rel}.${origin}`;
}

/** True when `name` is `zone` or below it. */
export function isAtOrBelow(name: string, zone: string): boolean {
  if (zone === "") return true;
  return name === zone || name.endsWith(`.${zone}`);
}

/** The parent of a name ("" for a single label). */
export function parentOf(name: string): string {
  const labels = splitLabels(name);
  return labels.slice(1).join(".");
}
