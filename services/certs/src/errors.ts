/** Base of every error the certs service raises; `cause` carries what went wrong below. */
export class CertsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An ACME request failed; `problem` is the CA's problem document when it sent one. */
export class AcmeError extends CertsError {
  constructor(
    message: string,
    readonly problem: AcmeProblem | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What an ACME server said about a failed request (RFC 8555 §6.7) plus the HTTP facts that matter. */
export interface AcmeProblem {
  status: number;
  type: string;
  detail: string;
  /** Milliseconds the server asked us to wait (Retry-After), when it said. */
  retryAfterMs?: number;
}

/** The DNS-01 TXT values did not appear on every configured authoritative server in time. */
export class PropagationError extends CertsError {}

/** Another replica holds the order lock for a name. */
export class LockBusyError extends CertsError {}

/** A name that is not among `certs.certificates`. */
export class UnknownCertificateError extends CertsError {
  constructor(readonly certificate: string) {
    super(`${certificate} is not a configured certificate`);
  }
}
