import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { HttpError } from "../errors.js";
import { rawRefusal } from "../front/http1-front.js";
import { routeFor } from "../sites/site-table.js";
import { upstreamRequestHeaders } from "./forwarded-headers.js";
import type { ConnectionFacts, RequestContext } from "./handle-request.js";
import { openTunnel } from "./websocket-tunnel.js";

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  421: "Misdirected Request",
  502: "Bad Gateway",
  504: "Gateway Timeout",
};

/**
 * An HTTP/1.1 Upgrade request (WebSocket): the same site, auth and forwarding headers as any
 * request, then a tunnel to one upstream; refusals are short responses and the connection ends.
 * One access log line when the tunnel is up or refused.
 */
export async function handleUpgrade(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  facts: ConnectionFacts,
  ctx: RequestContext,
): Promise<void> {
  const host = req.headers.host;
  const site = ctx.sites.find(host);
  const started = performance.now();
  const target = req.url ?? "/";
  let status = 101;
  let upstream: string | undefined;
  const refuse = (code: number) => {
    status = code;
    rawRefusal(socket, code, REASONS[code] ?? "Bad Request");
  };
  try {
    if (!site || (facts.sni !== undefined && ctx.sites.find(facts.sni) !== site)) refuse(421);
    else if (!facts.secure && site.redirectHttp) refuse(400);
    else if (site.auth && !(await site.auth.check(req.headers.authorization))) refuse(401);
    else {
      const route = routeFor(site, target);
      const pool = ctx.pools.get(route.pool);
      if (!pool) refuse(502);
      else {
        const headers = upstreamRequestHeaders(
          req.headers,
          { address: facts.address, secure: facts.secure, host: host ?? site.name, protocol: "1.1" },
          ctx.via,
        );
        const path = route.stripPrefix ? `/${target.slice(route.prefix.length).replace(/^\//, "")}` : target;
        upstream = await openTunnel(req, socket, head, {
          pool,
          route,
          path,
          headers,
          timeoutMs: site.limits.upstreamTimeoutMs,
          via: ctx.via,
          tlsFailed: (u, failure) => ctx.tlsFailed(u, failure),
        });
      }
    }
  } catch (err) {
    refuse(err instanceof HttpError && err.status !== undefined ? err.status : 502);
  }
  ctx.accessLog.info(
    {
      conn: facts.id,
      client: facts.address,
      proto: "1.1",
      site: site?.name ?? "(none)",
      method: req.method,
      path: target,
      status,
      upstream,
      upgrade: req.headers.upgrade,
      ms: Math.round(performance.now() - started),
    },
    "access",
  );
}
