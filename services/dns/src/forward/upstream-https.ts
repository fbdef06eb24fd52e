import { type Agent, request as httpsRequest } from "node:https";
import { UpstreamError } from "../errors.js";
import { label, type UpstreamTarget } from "./upstream-client.js";

/** DoH (RFC 8484 POST) to `url`, connecting to `target` with the URL's host as the TLS name. */
export function exchangeHttps(
  target: UpstreamTarget,
  url: URL,
  query: Buffer,
  timeoutMs: number,
  agent: Agent,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const where = `${label(target)} ${url.href}`;
    const req = httpsRequest(
      {
        host: target.host,
        port: target.port,
        servername: url.hostname,
        headers: {
          host: url.host,
          "content-type": "application/dns-message",
          accept: "application/dns-message",
          "content-length": query.length,
        },
        method: "POST",
        path: `${url.pathname}${url.search}`,
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > 65535) req.destroy(new UpstreamError(`${where}: answer over 65535 octets`));
          else chunks.push(c);
        });
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new UpstreamError(`${where}: HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks));
        });
        res.on("error", (err) => reject(new UpstreamError(`${where}: ${err.message}`, { cause: err })));
      },
    );
    const timer = setTimeout(
      () => req.destroy(new UpstreamError(`${where}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on("close", () => clearTimeout(timer));
    req.on("error", (err) =>
      reject(
        err instanceof UpstreamError ? err : new UpstreamError(`${where}: ${err.message}`, { cause: err }),
      ),
    );
    req.end(query);
  });
}
