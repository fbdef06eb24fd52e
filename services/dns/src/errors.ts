/** A zone file (or inline record) that cannot be parsed; `file:line` is in the message. */
export class ZoneFileError extends Error {
  override name = "ZoneFileError";
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}:${line}: ${problem}`, options);
  }
}

/** A zone whose records do not make a servable zone (no SOA, records outside the origin, ...). */
export class ZoneError extends Error {
  override name = "ZoneError";
  constructor(
    readonly origin: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`zone ${origin || "."}: ${problem}`, options);
  }
}

/** A record that does not fit in DNS wire format (a name over 255 octets, a label over 63, ...). */
export class EncodeError extends Error {
  override name = "EncodeError";
}

/** A dynamic record (UpsertRecord, the `dns-records` or `acme` bucket) that cannot be served. */
export class DynamicRecordError extends Error {
  override name = "DynamicRecordError";
}

/** A DoH certificate or key that cannot be read or used. */
export class TlsMaterialError extends Error {
  override name = "TlsMaterialError";
}

/** A DoH request that gets an HTTP error status (400, 413, 414, 415, ...) with this message. */
export class DohRequestError extends Error {
  override name = "DohRequestError";
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An upstream resolver that did not answer usefully (timeout, refused connection, HTTP error). */
export class UpstreamError extends Error {
  override name = "UpstreamError";
}
