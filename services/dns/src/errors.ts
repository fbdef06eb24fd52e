/**
 * Every error the dns service makes is a DnsError: one base, a named subclass per kind, the
 * underlying error as `cause`, and the DNS rcode as a field where one applies (never in the text).
 */
export class DnsError extends Error {
  override name = "DnsError";
  /** The DNS rcode this error answers with or was answered with, where one applies. */
  readonly rcode: number | undefined;

  constructor(message: string, options?: { cause?: unknown; rcode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.rcode = options?.rcode;
  }
}

/** A zone file (or inline record) that cannot be parsed; `file:line` is in the message. */
export class ZoneFileError extends DnsError {
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
export class ZoneError extends DnsError {
  override name = "ZoneError";
  constructor(
    readonly origin: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`zone ${origin || "."}: ${problem}`, options);
  }
}

/** RDATA text that does not parse; the caller adds the file and line (ZoneFileError, ZoneError). */
export class RDataError extends DnsError {
  override name = "RDataError";
}

/** A record that does not fit in DNS wire format (a name over 255 octets, a label over 63, ...). */
export class EncodeError extends DnsError {
  override name = "EncodeError";
}

/** A dynamic record (UpsertRecord, the `dns-records` or `acme` bucket) that cannot be served. */
export class DynamicRecordError extends DnsError {
  override name = "DynamicRecordError";
}

/** A DoH certificate or key that cannot be read or used. */
export class TlsMaterialError extends DnsError {
  override name = "TlsMaterialError";
}

/** A TLS client asked for a server name this replica holds no certificate for: the handshake fails. */
export class NoCertificateError extends DnsError {
  override name = "NoCertificateError";
  constructor(readonly servername: string) {
    super(`no certificate for ${servername}`);
  }
}

/** A DoH request that gets an HTTP error status (400, 413, 414, 415, ...) with this message. */
export class DohRequestError extends DnsError {
  override name = "DohRequestError";
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * An upstream resolver that did not answer usefully: timeout, refused connection, HTTP error, or an
 * answer with rcode SERVFAIL or REFUSED (in `rcode`). The client then gets SERVFAIL from the next.
 */
export class UpstreamError extends DnsError {
  override name = "UpstreamError";
}

/**
 * A DNSSEC key rollover step that cannot be taken now (gRPC FAILED_PRECONDITION): `kind` says why
 * (no rollover started, one already in progress, the wait not over, nothing to clean up,
 * the entry changed meanwhile; `unavailable`: no NATS KV, gRPC UNAVAILABLE).
 */
export class RolloverError extends DnsError {
  override name = "RolloverError";
  constructor(
    readonly kind:
      | "not-started"
      | "in-progress"
      | "too-early"
      | "nothing-to-clean"
      | "conflict"
      | "unavailable",
    message: string,
  ) {
    super(message);
  }
}
