/** Base of every error @switchyard/x509 raises; `cause` carries what went wrong below. */
export class X509Error extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A certificate was asked for with names or a validity it cannot have; `value` is the bad part. */
export class CertificateRequestError extends X509Error {
  constructor(
    readonly value: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A CA certificate and key given as PEM do not load or do not belong together. */
export class CaLoadError extends X509Error {}
