/**
 * The console's HTTP server: the page under /console/ (from memory, with the security headers),
 * its JSON API under /console/api/ (console-api.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ConsoleApiOptions, createConsoleApi } from "./console-api.js";
import { send, sendJson } from "./http-reply.js";
import { loadStaticFiles } from "./static-files.js";

export interface ConsoleServerOptions extends ConsoleApiOptions {
  host: string;
  port: number;
  /** The built page: dist/web. */
  webDir: string;
}

export interface ConsoleServer {
  port: number;
  close(): Promise<void>;
}

const API = "/console/api/";

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { logger } = options;
  const files = await loadStaticFiles(options.webDir);
  const api = createConsoleApi(options);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://console").pathname;
    if (path.startsWith(API)) {
      return api(request, response, path.slice(API.length));
    }
    if (request.method !== "GET" && request.method !== "HEAD") return send(response, 405, "", "text/plain");
    if (path === "/" || path === "/console") {
      response.writeHead(302, { location: "/console/" }).end();
      return;
    }
    const file = path.startsWith("/console/")
      ? files.get(path === "/console/" ? "/index.html" : path.slice(8))
      : undefined;
    if (file === undefined) return send(response, 404, "not found\n", "text/plain");
    return send(response, 200, file.body, file.type);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, "console request failed");
      if (!response.headersSent) sendJson(response, 500, { error: "internal error" });
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
