import { createReadStream } from "node:fs";
import SMTPConnection, { type SMTPConnectionOptions } from "nodemailer/lib/smtp-connection";
import { MailError } from "../errors.js";

type NodemailerError = SMTPConnection.SMTPError;

/** The answer of one SMTP transaction with another server. */
export interface SmtpSendResult {
  accepted: string[];
  /** Refused recipients with the reply, and whether it was permanent (5xx). */
  rejected: Array<{ address: string; reply: string; permanent: boolean }>;
  response: string;
  /** True when the session ran over TLS (implicit or STARTTLS). */
  secure: boolean;
}

/**
 * A failure before any recipient was answered: the server could not be reached, TLS failed, or it
 * refused the session. `stage` says whether another server may be tried (`connect`) or the reply
 * stands for the whole message (`transaction`).
 */
export class SmtpSendError extends MailError {
  constructor(
    message: string,
    readonly stage: "connect" | "transaction",
    readonly reply: string,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function describe(err: NodemailerError): string {
  return (err.response ?? err.message).replace(/[\r\n]+/g, " ").slice(0, 500);
}

/**
 * One SMTP session with nodemailer's SMTPConnection: connect (TLS as `options` say), AUTH when
 * given, send the spooled file with the envelope, QUIT. Per-recipient refusals come back in the
 * result; a refusal of the whole message throws SmtpSendError.
 */
export async function sendOverSmtp(
  options: SMTPConnectionOptions,
  auth: { user: string; pass: string } | undefined,
  envelope: { from: string; to: string[] },
  messagePath: string,
): Promise<SmtpSendResult> {
  const connection = new SMTPConnection({ ...options, logger: false });
  let failure: NodemailerError | undefined;
  connection.on("error", (err: NodemailerError) => {
    failure ??= err;
  });
  const step = <T>(run: (cb: (err: NodemailerError | null | undefined, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      const onError = (err: NodemailerError) => reject(err);
      connection.once("error", onError);
      run((err, value) => {
        connection.off("error", onError);
        if (err) reject(err);
        else resolve(value as T);
      });
    });
  try {
    try {
      await step<void>((cb) => connection.connect((err) => cb(err)));
      if (auth) await step<boolean>((cb) => connection.login(auth, cb));
    } catch (err) {
      const e = err as NodemailerError;
      // A refused login is the same at every host of a smarthost; a reply code decides its class.
      const permanent = e.command === "AUTH" ? false : Boolean(e.permanent);
      throw new SmtpSendError(describe(e), "connect", describe(e), permanent, { cause: err });
    }
    try {
      const info = await step<SMTPConnection.SentMessageInfo>((cb) =>
        connection.send(envelope, createReadStream(messagePath), cb),
      );
      return {
        accepted: info.accepted,
        rejected: (info.rejectedErrors ?? []).map((e) => ({
          address: e.recipient ?? "",
          reply: describe(e),
          permanent: Boolean(e.permanent),
        })),
        response: info.response,
        secure: connection.secure,
      };
    } catch (err) {
      const e = err as NodemailerError;
      if (e.rejectedErrors?.length) {
        return {
          accepted: [],
          rejected: e.rejectedErrors.map((r) => ({
            address: r.recipient ?? "",
            reply: describe(r),
            permanent: Boolean(r.permanent),
          })),
          response: describe(e),
          secure: connection.secure,
        };
      }
      const stage = e.responseCode ? "transaction" : "connect";
      throw new SmtpSendError(describe(e), stage, describe(e), Boolean(e.permanent), { cause: err });
    }
  } finally {
    if (failure === undefined) connection.quit();
    else connection.close();
  }
}
