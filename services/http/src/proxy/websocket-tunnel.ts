import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { pipeline } from "node:stream";
import { UpstreamError, UpstreamTlsError } from "../errors.js";
import type { Route } from "../sites/site-table.js";
import type { TlsFailure } from "../upstreams/tls-failure.js";
import type { Upstream, UpstreamPool } from "../upstreams/upstream.js";
import { isConnectFailure } from "./forward-request.js";

/**
 * An HTTP/1.1 Upgrade (WebSocket) carried end to end: the upstream's 101 is relayed to the client,
 * then bytes flow both ways until either side closes (each end's close ends the other). Resolves
 * with the upstream once the tunnel is up; throws UpstreamError (502/504) when the upstream would
 * not switch.
 */
export async function openTunnel(
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  options: {
    pool: UpstreamPool;
    route: Route;
    path: string;
    headers: Record<string, string | string[]>;
    timeoutMs: number;
    via: string;
    /** TLS to the upstream failed: logged and counted as for requests. */
    tlsFailed: (upstream: Upstream, failure: TlsFailure) => void;
  },
): Promise<string> {
  const upstream = options.pool.pick();
  if (!upstream) throw new UpstreamError(undefined, 502, "no healthy upstream");
  const protocol = String(req.headers.upgrade ?? "websocket");
  upstream.inFlight++;
  let upgraded: { headers: Record<string, string | string[] | undefined>; socket: Socket };
  try {
    upgraded = (await upstream.upgradeClient.upgrade({
      path: options.path,
      method: "GET",
      headers: options.headers,
      ...(upstream.servername ? { servername: upstream.servername } : {}),
      protocol,
      signal: AbortSignal.timeout(options.timeoutMs),
    })) as unknown as typeof upgraded;
  } catch (err) {
    upstream.inFlight--;
    const tlsFailure = upstream.tlsFailureOf(err);
    if (tlsFailure) {
      options.tlsFailed(upstream, tlsFailure);
      throw new UpstreamTlsError(upstream.address, tlsFailure, { cause: err });
    }
    if (isConnectFailure(err)) upstream.markConnectFailure();
    throw new UpstreamError(upstream.address, 502, "the upstream did not switch protocols", { cause: err });
  }
  const lines = ["HTTP/1.1 101 Switching Protocols"];
  for (const [name, value] of Object.entries(upgraded.headers)) {
    if (value === undefined || name === "via") continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  lines.push(`via: 1.1 ${options.via}`);
  const up = upgraded.socket;
  client.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (head.length > 0) up.write(head);
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    upstream.inFlight--;
    client.destroy();
    up.destroy();
  };
  pipeline(client, up, end);
  pipeline(up, client, end);
  return upstream.address;
}
