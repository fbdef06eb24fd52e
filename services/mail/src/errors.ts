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
