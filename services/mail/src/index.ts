export { hashPassword, verifyPassword } from "./auth/password-hash.js";
export { DeliveryError, MailError, SmtpReply, SpoolWriteError, TlsSetupError } from "./errors.js";
export { AddressPolicy, type RecipientVerdict, splitPlainAddress } from "./smtp/address-policy.js";
export { BareNewlineGuard } from "./smtp/bare-newline-guard.js";
export { type FileOps, nodeFileOps, type WritableFile } from "./spool/file-ops.js";
export { Spool } from "./spool/spool.js";
export type { SpooledMessage } from "./spool/spool-layout.js";
