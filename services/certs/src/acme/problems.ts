import { AsyncLocalStorage } from "node:async_hooks";
import { Agent } from "node:https";
import * as acme from "acme-client";
import type { AcmeProblem } from "../errors.js";

interface RequestScope {
  problems: AcmeProblem[];
}

const scope = new AsyncLocalStorage<RequestScope>();
let installed = false;
let onProblem: (problem: AcmeProblem) => void = () => {};

type AxiosLike = {
  response?: { status: number; headers: Record<string, unknown>; data: unknown };
  config?: { retryValidateStatus?: ((status: number) => boolean) | null };
};

/**
 * Takes over acme-client's HTTP error handling, once per process. acme-client retries 429 and 5xx
 * by resending the same signed body, so the same nonce: the CA answers badNonce, acme-client
 * retries that with a fresh nonce, gets 429 again, and so on (node-acme-client#103). Here nothing
 * is resent below the ACME layer: every response goes up as it is, the CA's problem document and
 * Retry-After are recorded for the operation that sent the request, and the renewal scheduler
 * retries whole operations (each signed request fetching a fresh nonce) with backoff.
 * acme-client's own badNonce retry (up to 5, with the nonce from the error response, as RFC 8555
 * §6.5 says) stays.
 */
export function installAcmeHttp(options: { ca?: string; onProblem?: (problem: AcmeProblem) => void }): void {
  if (options.onProblem) onProblem = options.onProblem;
  const http = acme.axios;
  if (options.ca) http.defaults.httpsAgent = new Agent({ ca: options.ca, keepAlive: true });
  if (installed) return;
  installed = true;
  http.interceptors.response.clear();
  http.interceptors.response.use(
    (response) => response,
    (error: AxiosLike) => {
      const response = error.response;
      if (!response) return Promise.reject(error);
      if (response.status >= 400) record(response);
      const validate = error.config?.retryValidateStatus;
      if (!validate || validate(response.status)) return response;
      return Promise.reject(error);
    },
  );
}

function record(response: NonNullable<AxiosLike["response"]>): void {
  const data = (response.data ?? {}) as { type?: unknown; detail?: unknown };
  const problem: AcmeProblem = {
    status: response.status,
    type: typeof data.type === "string" ? data.type : `http-${response.status}`,
    detail: typeof data.detail === "string" ? data.detail : "",
  };
  const retryAfter = parseRetryAfter(response.headers["retry-after"]);
  if (retryAfter !== undefined) problem.retryAfterMs = retryAfter;
  scope.getStore()?.problems.push(problem);
  onProblem(problem);
}

/** Runs `fn` recording the ACME problems its requests get; returns them with the result or error. */
export async function withProblems<T>(
  fn: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; problems: AcmeProblem[] }> {
  const store: RequestScope = { problems: [] };
  try {
    return { result: await scope.run(store, fn), problems: store.problems };
  } catch (error) {
    return { error, problems: store.problems };
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Runs one ACME step again when it failed on badNonce (acme-client already retried it with the
 * nonces the CA sent). A badNonce rejection means the CA did not act on the request, so repeating
 * the step cannot order or finalize twice; each attempt starts with a fresh nonce. Bounded.
 */
export async function retryOnBadNonce<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  const store = scope.getStore();
  for (let attempt = 1; ; attempt++) {
    const before = store?.problems.length ?? 0;
    try {
      return await fn();
    } catch (err) {
      const last = store?.problems.at(-1);
      const badNonce =
        store !== undefined && store.problems.length > before && last?.type.endsWith(":badNonce");
      if (!badNonce || attempt >= attempts) throw err;
    }
  }
}

/** The type of the last ACME problem recorded in the current operation, if any. */
export function lastProblemType(): string | undefined {
  return scope.getStore()?.problems.at(-1)?.type;
}
