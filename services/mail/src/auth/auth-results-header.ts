/**
 * The Authentication-Results header field (RFC 8601) this server writes, and the removal of copies
 * that claim to be ours before a message is stored (RFC 8601 §5: a client must not be able to
 * forge our verdict).
 */

/** `Authentication-Results: <authserv-id>;` and one result per folded line, CRLF-terminated. */
export function authenticationResults(authservId: string, results: readonly string[]): string {
  const body = results.length > 0 ? results.map((r) => fold(r, 78)).join(";\r\n ") : "none";
  return `Authentication-Results: ${authservId};\r\n ${body}\r\n`;
}

/** Folds at spaces so no line passes `width` where a space allows it (continuation lines start with a tab). */
function fold(text: string, width: number): string {
  const words = text.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join("\r\n\t");
}

/** Where the header section ends: the offset of the empty line's CRLF (or the message length). */
function headerEnd(message: Buffer): number {
  if (message.subarray(0, 2).toString("latin1") === "\r\n") return 0;
  const end = message.indexOf("\r\n\r\n");
  return end < 0 ? message.length : end + 2;
}

/** The authserv-id of an Authentication-Results value: the first token, comments dropped. */
function authservIdOf(value: string): string {
  let text = value;
  for (let i = 0; i < 5 && /\([^()]*\)/.test(text); i++) text = text.replace(/\([^()]*\)/g, " ");
  return (text.split(";")[0] ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
}

/**
 * The message without Authentication-Results fields whose authserv-id is `authservId`
 * (case-insensitive). Returns the same Buffer when there is none (the common case).
 */
export function withoutForgedResults(message: Buffer, authservId: string): Buffer {
  const end = headerEnd(message);
  const head = message.subarray(0, end).toString("latin1");
  if (!/^authentication-results\s*:/im.test(head)) return message;
  const id = authservId.toLowerCase();
  // Fields: a line not starting with WSP starts one; continuation lines belong to the field above.
  const fields = head.split(/\r\n(?![ \t])/);
  const kept = fields.filter((field) => {
    const m = /^authentication-results\s*:(.*)$/is.exec(field);
    return !m || authservIdOf(m[1] ?? "") !== id;
  });
  if (kept.length === fields.length) return message;
  const rebuilt = kept.filter((f) => f !== "").join("\r\n");
  return Buffer.concat([Buffer.from(rebuilt ? `${rebuilt}\r\n` : "", "latin1"), message.subarray(end)]);
}
