/**
 * The console's HTTP server: the page under /console/, its JSON API under /console/api/.
 * Login with the admin token; views need the session; actions need the session's CSRF token too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, readToken, status } from "@switchyard/runtime";
import { AdminCallError, type AdminConnections } from "@switchyard/yardctl";
import { ACTIONS, BadRequest } from "./admin-actions.js";
import { VIEWS } from "./admin-views.js";
import { BodyError, readJsonBody, send, sendJson } from "./http-reply.js";
import { checkAdminToken, checkStateChange, GuardError, requireSession } from "./request-guard.js";
import { SessionStore } from "./session-store.js";
import { loadStaticFiles } from "./static-files.js";
import type { StatsHistory } from "./stats-history.js";

export interface ConsoleServerOptions {
  host: string;
  port: number;
  /** Read at each login, so a new token works without a restart. */
  tokenFile: string;
  admin: AdminConnections;
  /** The built page: dist/web. */
  webDir: string;
  logger: Logger;
  sessions?: SessionStore;
  /** The chart's samples (GET api/views/chart); none when absent. */
  history?: StatsHistory;
}

export interface ConsoleServer {
  port: number;
  close(): Promise<void>;
}

const API = "/console/api/";

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { admin, logger } = options;
  const files = await loadStaticFiles(options.webDir);
  const sessions = options.sessions ?? new SessionStore();

  async function api(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    const method = request.method ?? "GET";
    if (path === "login" && method === "POST") {
      if (request.headers.origin !== undefined && request.headers.origin !== `http://${request.headers.host}`)
        throw new GuardError(403, "cross-origin request refused");
      const body = await readJsonBody(request);
      checkAdminToken(body.token, await readToken(options.tokenFile));
      const session = sessions.create();
      logger.info({ sessions: sessions.size }, "console login");
      return sendJson(response, 200, { session: session.id, csrf: session.csrf });
    }
    const session = requireSession(request.headers, sessions);
    const [kind, name = ""] = path.split("/", 2);
    if (kind === "views" && method === "GET") {
      if (name === "chart") return sendJson(response, 200, { samples: options.history?.samples() ?? [] });
      const read = Object.hasOwn(VIEWS, name) ? VIEWS[name] : undefined;
      if (read === undefined) return sendJson(response, 404, { error: `no view ${name}` });
      return sendJson(response, 200, await read(admin));
    }
    if (method !== "POST") return sendJson(response, 405, { error: "method not allowed" });
    checkStateChange(request.headers, session);
    if (kind === "logout") {
      sessions.delete(session.id);
      return sendJson(response, 200, { message: "logged out" });
    }
    const action = kind === "actions" && Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (action === undefined) return sendJson(response, 404, { error: `no action ${name}` });
    const body = await readJsonBody(request);
    const result = await action(admin, body);
    logger.info({ action: name, result: result.message }, "console action");
    return sendJson(response, 200, result);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://console").pathname;
    if (path.startsWith(API)) {
      try {
        return await api(request, response, path.slice(API.length));
      } catch (error) {
        return apiError(response, error, logger);
      }
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

const CALL_STATUS: Partial<Record<number, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.NOT_FOUND]: 404,
  [status.FAILED_PRECONDITION]: 409,
  [status.ALREADY_EXISTS]: 409,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

function apiError(response: ServerResponse, error: unknown, logger: Logger): void {
  if (error instanceof GuardError || error instanceof BodyError) {
    sendJson(response, error.status, { error: error.message });
  } else if (error instanceof BadRequest) {
    sendJson(response, 400, { error: error.message });
  } else if (error instanceof AdminCallError) {
    sendJson(response, CALL_STATUS[error.code] ?? 502, { error: error.message, code: status[error.code] });
  } else {
    logger.error({ err: error }, "console API call failed");
    sendJson(response, 500, { error: error instanceof Error ? error.message : "internal error" });
  }
}
