/** Base of every error the mail service raises; `cause` carries what went wrong below. */
export class MailError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The config file has no usable mail section. */
export class MailConfigError extends MailError {}

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

/** The TLS certificate could not be read or made. */
export class TlsSetupError extends MailError {}

/** An SMTP reply that refuses something: smtp-server sends `responseCode` and the message. */
export class SmtpReply extends MailError {
  constructor(
    readonly responseCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A configured DKIM signing key could not be read or is not usable. */
export class DkimKeyError extends MailError {}
