import type { IncomingHttpHeaders } from "node:http";
import dnsPacket from "dns-packet";
import { DohRequestError } from "../errors.js";
import { parseQuery, Rcode } from "../wire/query-parser.js";
import { jsonAnswer, jsonQuery } from "./doh-json.js";

/** Answers one DNS message for a client address (the same answers as UDP/TCP, whole). */
export type DnsAnswer = (query: Buffer, client: string) => Promise<Buffer | undefined>;

export const DOH_LIMITS = {
  /** The largest DNS message (RFC 8484 4.1: a body over it is 413). */
  maxBody: 65535,
  /** Longer request targets get 414; a bigger query can still be POSTed. */
  maxUrl: 8192,
};

/** The parts of a Node HTTP/1.1 or HTTP/2 compatibility request and response the handler uses. */
export interface DohRequest extends AsyncIterable<Buffer> {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined } | null;
}
export interface DohResponse {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: Buffer | string): unknown;
  headersSent: boolean;
}

/**
 * RFC 8484 at `/dns-query` (GET `?dns=` base64url, POST `application/dns-message`) and the JSON API
 * at `/resolve?name=&type=`; limits answered with 413, 414, 415; bad input with 400. `observe`
 * gets each response's status.
 */
export function createDohHandler(answer: DnsAnswer, observe: (status: number) => void = () => {}) {
  return (req: DohRequest, res: DohResponse): void => {
    handle(req, res, answer).then(observe, (err: unknown) => {
      const status = err instanceof DohRequestError ? err.status : 500;
      const message = err instanceof DohRequestError ? err.message : "internal error";
      if (!res.headersSent) {
        const body = `${message}\n`;
        res.writeHead(status, {
          "content-type": "text/plain; charset=utf-8",
          "content-length": Buffer.byteLength(body),
          "cache-control": "no-store",
          ...(status === 405 ? { allow: (err as DohRequestError & { allow?: string }).allow ?? "GET" } : {}),
        });
        res.end(body);
      }
      observe(status);
    });
  };
}

async function handle(req: DohRequest, res: DohResponse, answer: DnsAnswer): Promise<number> {
  const target = req.url ?? "/";
  if (target.length > DOH_LIMITS.maxUrl)
    throw new DohRequestError(414, `request target over ${DOH_LIMITS.maxUrl} characters; POST large queries`);
  const url = new URL(target, "https://doh.invalid");
  const method = req.method ?? "GET";
  const client = req.socket?.remoteAddress ?? "";
  if (url.pathname === "/dns-query") {
    let query: Buffer;
    if (method === "GET" || method === "HEAD") query = fromBase64Url(url.searchParams.get("dns"));
    else if (method === "POST") query = await readBody(req);
    else throw notAllowed("GET, POST");
    checkQuery(query);
    const response = await answer(query, client);
    if (!response) throw new DohRequestError(400, "not a DNS query");
    res.writeHead(200, {
      "content-type": "application/dns-message",
      "content-length": response.length,
      "cache-control": cacheControl(response),
    });
    res.end(method === "HEAD" ? undefined : response);
    return 200;
  }
  if (url.pathname === "/resolve") {
    if (method !== "GET" && method !== "HEAD") throw notAllowed("GET");
    const p = url.searchParams;
    const flag = (k: string) => ["1", "true"].includes((p.get(k) ?? "").toLowerCase());
    const query = jsonQuery(p.get("name"), p.get("type"), { cd: flag("cd"), do: flag("do") });
    const response = await answer(query, client);
    if (!response) throw new DohRequestError(400, "not a DNS query");
    const body = JSON.stringify(jsonAnswer(response));
    res.writeHead(200, {
      "content-type": "application/dns-json",
      "content-length": Buffer.byteLength(body),
      "cache-control": cacheControl(response),
    });
    res.end(method === "HEAD" ? undefined : body);
    return 200;
  }
  throw new DohRequestError(404, `${url.pathname} not found: DoH is at /dns-query, JSON at /resolve`);
}

function notAllowed(allow: string): DohRequestError {
  return Object.assign(new DohRequestError(405, `method not allowed (${allow})`), { allow });
}

function fromBase64Url(text: string | null): Buffer {
  if (!text) throw new DohRequestError(400, "dns parameter missing (/dns-query?dns=<base64url>)");
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1)
    throw new DohRequestError(400, "dns parameter is not base64url");
  return Buffer.from(text, "base64url");
}

async function readBody(req: DohRequest): Promise<Buffer> {
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
function checkQuery(query: Buffer): void {
  const parsed = parseQuery(query);
  if (parsed.kind === "drop") throw new DohRequestError(400, `not a DNS query (${parsed.reason})`);
  if (parsed.kind === "error" && parsed.rcode === Rcode.FORMERR)
    throw new DohRequestError(400, `malformed DNS query (${parsed.reason})`);
}

/** RFC 8484 5.1: fresh no longer than the smallest TTL in the answer (and the negative TTL). */
function cacheControl(response: Buffer): string {
  let min = Number.POSITIVE_INFINITY;
  try {
    const p = dnsPacket.decode(response);
    for (const r of [...(p.answers ?? []), ...(p.authorities ?? [])]) {
      if (r.type !== "OPT" && typeof r.ttl === "number") min = Math.min(min, r.ttl);
    }
  } catch {
    return "no-store";
  }
  return Number.isFinite(min) ? `max-age=${min}` : "no-store";
}
