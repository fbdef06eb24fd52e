/** Base of every error @switchyard/certstore raises; `cause` carries what went wrong below. */
export class CertStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The KV encryption key file is missing, unreadable or does not hold 32 bytes. */
export class KvKeyError extends CertStoreError {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A sealed value could not be opened: wrong key, tampered or not a sealed value at all. */
export class DecryptError extends CertStoreError {}

/** A `certs` bucket value is not a certificate record this version understands. */
export class RecordFormatError extends CertStoreError {}
