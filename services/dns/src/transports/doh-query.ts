import type { IncomingHttpHeaders } from "node:http";
import { DohRequestError } from "../errors.js";
import { parseQuery, Rcode } from "../wire/query-parser.js";

export const DOH_LIMITS = {
  /** The largest DNS message (RFC 8484 4.1: a body over it is 413). */
  maxBody: 65535,
  /** Longer request targets get 414; a bigger query can still be POSTed. */
  maxUrl: 8192,
};

/** The part of a Node HTTP/1.1 or HTTP/2 compatibility request the handler reads. */
export interface DohRequest extends AsyncIterable<Buffer> {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined } | null;
}

/** The query of a GET: the `dns` parameter, base64url (RFC 8484 4.1), or 400. */
export function fromBase64Url(text: string | null): Buffer {
  if (!text) throw new DohRequestError(400, "dns parameter missing (/dns-query?dns=<base64url>)");
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1)
    throw new DohRequestError(400, "dns parameter is not base64url");
  return Buffer.from(text, "base64url");
}

/** The query of a POST: `application/dns-message` (else 415), at most `maxBody` octets (else 413). */
export async function readBody(req: DohRequest): Promise<Buffer> {
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  if (type !== "application/dns-message")
    throw new DohRequestError(415, `content type ${JSON.stringify(type)}: POST application/dns-message`);
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > DOH_LIMITS.maxBody) throw new DohRequestError(413, `body over ${DOH_LIMITS.maxBody} octets`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > DOH_LIMITS.maxBody) throw new DohRequestError(413, `body over ${DOH_LIMITS.maxBody} octets`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** 400 for what UDP would drop or answer FORMERR: the client sent something that is not a query. */
export function checkQuery(query: Buffer): void {
  const parsed = parseQuery(query);
  if (parsed.kind === "drop") throw new DohRequestError(400, `not a DNS query (${parsed.reason})`);
  if (parsed.kind === "error" && parsed.rcode === Rcode.FORMERR)
    throw new DohRequestError(400, `malformed DNS query (${parsed.reason})`);
}
