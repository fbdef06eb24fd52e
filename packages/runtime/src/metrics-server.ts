import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "./logger.js";

/** A registry for one service: default process metrics on, `service` label on every series. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** /readyz answers 200 only while this returns true. Default: always ready. */
  ready?: () => boolean;
  logger?: Logger;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text), /healthz (200 while the process runs) and /readyz (200 or 503). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, ready = () => true, logger } = options;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return reply(response, 405, "method not allowed\n");
    }
    const path = (request.url ?? "/").split("?")[0];
    switch (path) {
      case "/metrics":
        return reply(response, 200, await registry.metrics(), registry.contentType);
      case "/healthz":
        return reply(response, 200, "ok\n");
      case "/readyz":
        return ready() ? reply(response, 200, "ready\n") : reply(response, 503, "not ready\n");
      default:
        return reply(response, 404, "not found\n");
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger?.error({ err: error, url: request.url }, "metrics request failed");
      if (!response.headersSent) reply(response, 500, "internal error\n");
      else response.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function reply(response: ServerResponse, status: number, body: string, contentType = "text/plain"): void {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  response.end(body);
}
