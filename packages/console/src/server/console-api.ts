/**
 * The console's JSON API (under /console/api/): login with the admin token; views need the session;
 * state changes need the session's CSRF token and a same-origin Origin too. Errors become JSON.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Logger, readToken, status } from "@switchyard/runtime";
import { AdminCallError, type AdminConnections } from "@switchyard/yardctl";
import { ACTIONS, BadRequest } from "./admin-actions.js";
import { VIEWS } from "./admin-views.js";
import { BodyError, readJsonBody, sendJson } from "./http-reply.js";
import {
  checkAdminToken,
  checkOrigin,
  checkStateChange,
  GuardError,
  requireSession,
} from "./request-guard.js";
import { SessionStore } from "./session-store.js";
import type { StatsHistory } from "./stats-history.js";

export interface ConsoleApiOptions {
  /** Read at each login, so a new token works without a restart. */
  tokenFile: string;
  admin: AdminConnections;
  logger: Logger;
  sessions?: SessionStore;
  /** The chart's samples (GET api/views/chart); none when absent. */
  history?: StatsHistory;
}

export type ConsoleApi = (request: IncomingMessage, response: ServerResponse, path: string) => Promise<void>;

export function createConsoleApi(options: ConsoleApiOptions): ConsoleApi {
  const { admin, logger } = options;
  const sessions = options.sessions ?? new SessionStore();

  async function route(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    const method = request.method ?? "GET";
    if (path === "login" && method === "POST") {
      checkOrigin(request.headers);
      const body = await readJsonBody(request);
      try {
        checkAdminToken(body.token, await readToken(options.tokenFile));
      } catch (error) {
        logger.warn(
          { remote: request.socket.remoteAddress, err: (error as Error).message },
          "console login refused",
        );
        throw error;
      }
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

  return async (request, response, path) => {
    try {
      await route(request, response, path);
    } catch (error) {
      if (error instanceof AdminCallError)
        logger.info({ path, err: error.message }, "console API: the admin call failed");
      apiError(response, error, logger);
    }
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
