/** Base of every error the mail service raises; `cause` carries what went wrong below. */
export class MailError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The spool could not take a message durably; the client is told to try again later (451). */
export class SpoolWriteError extends MailError {}

/** Local delivery into a Maildir failed. */
export class DeliveryError extends MailError {}

/**
 * A message being received could not be put straight into its Maildirs; `stage` says what the
 * caller can still do: "open" (nothing read yet), "write" (nothing left behind), "link" (the whole
 * message is at `tmpPath`; no copy was left in any `new/`).
 */
export class MaildirDeliveryError extends DeliveryError {
  constructor(
    readonly stage: "open" | "write" | "link",
    readonly tmpPath: string,
    options?: ErrorOptions,
  ) {
    super(`cannot deliver into the Maildir (${stage}): ${tmpPath}`, options);
  }
}

/**
 * The last steps of a local delivery (`FileOps.place`) failed at `stage`: "write" (the file's last
 * bytes or its flush), "link", "rename" (`placed` links were made before) or "sync" (every name was
 * placed; a `new/` fsync failed). `code` is the system error's (ENOSPC, EIO, …).
 */
export class PlaceError extends MailError {
  readonly code: string | undefined;
  constructor(
    readonly stage: "write" | "link" | "rename" | "sync",
    readonly placed: number,
    options?: ErrorOptions,
  ) {
    const code = (options?.cause as NodeJS.ErrnoException | undefined)?.code;
    super(`cannot place the message (${stage})${code ? `: ${code}` : ""}`, options);
    this.code = code;
  }
}

/** The TLS certificate could not be read or made. */
export class TlsSetupError extends MailError {}

/** An enhanced mail system status (RFC 3463) at the start of a reply text: "5.1.1 User unknown". */
const leadingStatus = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/s;

/**
 * An SMTP reply that refuses something: the reply code and the enhanced status (RFC 3463) are
 * fields; `message` is the reply line after the code ("4.3.0 Message not stored, …"), which is what
 * smtp-server sends after `responseCode`.
 */
export class SmtpReply extends MailError {
  constructor(
    readonly responseCode: number,
    readonly enhancedStatus: string,
    readonly text: string,
    options?: ErrorOptions,
  ) {
    super(`${enhancedStatus} ${text}`, options);
  }

  /** A reply from a code and a line that starts with its enhanced status (routing rules' `text`). */
  static fromLine(responseCode: number, line: string, options?: ErrorOptions): SmtpReply {
    const match = leadingStatus.exec(line);
    const fallback = responseCode >= 500 ? "5.0.0" : "4.0.0";
    return new SmtpReply(responseCode, match?.[1] ?? fallback, match?.[2] ?? line, options);
  }
}

/** A recipient the relay cannot deliver to now or ever; `enhancedStatus` says which (5.x.x: never). */
export class RelayError extends MailError {
  constructor(
    readonly enhancedStatus: string,
    readonly text: string,
    options?: ErrorOptions,
  ) {
    super(`${enhancedStatus} ${text}`, options);
  }

  /** A 5.x.x status: retrying cannot help; the sender gets a bounce. */
  get permanent(): boolean {
    return this.enhancedStatus.startsWith("5.");
  }

  /** The text recorded for each recipient and quoted in a DSN. */
  get reply(): string {
    return this.message;
  }
}

/** The domain has no way to take mail (NXDOMAIN, or a null MX): 5.1.2 or 5.1.10. */
export class NoMailDomainError extends RelayError {
  constructor(
    readonly domain: string,
    enhancedStatus: "5.1.2" | "5.1.10",
    text: string,
  ) {
    super(enhancedStatus, text);
  }
}

/** MTA-STS (enforce) matched none of the domain's MX hosts: 4.7.5, retried later. */
export class MtaStsMismatchError extends RelayError {
  constructor(options?: ErrorOptions) {
    super("4.7.5", "MTA-STS: no MX host matches the policy", options);
  }
}

/** No MX host of the domain resolved to an address: 4.4.4, retried later. */
export class NoMxAddressError extends RelayError {
  constructor(readonly domain: string) {
    super("4.4.4", `no MX host of ${domain} has an address`);
  }
}

/** A host name resolved to no address. */
export class NoAddressError extends MailError {
  constructor(readonly host: string) {
    super(`${host}: no address`);
  }
}

/** An MTA-STS policy could not be fetched or is not a valid STSv1 policy. */
export class MtaStsPolicyError extends MailError {}

/** A spool entry directory is not a queue entry (bad entry.json, or no message file). */
export class QueueEntryError extends MailError {}

/** The disk took no byte of a write (a full disk): `code` is "EIO", as the file system would say. */
export class ShortWriteError extends MailError {
  readonly code = "EIO";
  constructor() {
    super("short write");
  }
}

/** DKIM signing produced no signature. */
export class DkimSignError extends MailError {}

/** A configured DKIM signing key could not be read or is not usable. */
export class DkimKeyError extends MailError {}
