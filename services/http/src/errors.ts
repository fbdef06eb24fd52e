/**
 * Every error the http service makes is an HttpError: one base, a named subclass per kind, the
 * underlying error as `cause`, and the HTTP status it answers with as a field (never in the text).
 */
export class HttpError extends Error {
  override name = "HttpError";
  /** The status this error answers the client with, where one applies. */
  readonly status: number | undefined;

  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status;
  }
}

/** A site's fixed certificate or key that cannot be read or used. */
export class TlsMaterialError extends HttpError {
  override name = "TlsMaterialError";
}

/** No certificate for the name a client asked for in its SNI: the handshake is refused. */
export class NoCertificateError extends HttpError {
  override name = "NoCertificateError";
  constructor(readonly servername: string) {
    super(`no certificate for ${JSON.stringify(servername)}`);
  }
}

/** A request refused before it reaches an upstream (400, 401, 404, 408, 413, 421, 431). */
export class RequestRefusedError extends HttpError {
  override name = "RequestRefusedError";
  constructor(status: number, message: string) {
    super(message, { status });
  }
}

/** No upstream could answer (502: none up, connect failed, reset; 504: too slow). */
export class UpstreamError extends HttpError {
  override name = "UpstreamError";
  constructor(
    readonly upstream: string | undefined,
    status: 502 | 504,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, { status, ...options });
  }
}

/** Why an OCSP response was not fetched or not fit to staple (a metric label: a small, fixed set). */
export type OcspFailure =
  | "connect"
  | "timeout"
  | "http-status"
  | "too-large"
  | "malformed"
  | "status"
  | "signer"
  | "signature"
  | "certid"
  | "time"
  | "unknown-cert";

/** An OCSP response that could not be had or used: the certificate is stapled with what it had. */
export class OcspResponseError extends HttpError {
  override name = "OcspResponseError";
  constructor(
    readonly reason: OcspFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
