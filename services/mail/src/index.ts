export { AddressPolicy, type RecipientVerdict, splitPlainAddress } from "./address-policy.js";
export { BareNewlineGuard } from "./bare-newline-guard.js";
export { DeliveryError, MailError, SmtpReply, SpoolWriteError, TlsSetupError } from "./errors.js";
export { type FileOps, nodeFileOps, type WritableFile } from "./file-ops.js";
export { hashPassword, verifyPassword } from "./password-hash.js";
export { Spool, type SpooledMessage } from "./spool.js";
