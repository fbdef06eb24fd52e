import { DohRequestError } from "../errors.js";
import { cacheControl } from "./doh-cache-control.js";
import { jsonAnswer, jsonQuery } from "./doh-json.js";
import { checkQuery, DOH_LIMITS, type DohRequest, fromBase64Url, readBody } from "./doh-query.js";

export type { DohRequest } from "./doh-query.js";

/** Answers one DNS message for a client address (the same answers as UDP/TCP, whole). */
export type DnsAnswer = (query: Buffer, client: string) => Promise<Buffer | undefined>;

/** The part of a Node HTTP/1.1 or HTTP/2 compatibility response the handler uses. */
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
