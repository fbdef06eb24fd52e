/** Why a TLS connection to an upstream failed, short (a metric label) and long (the log). */
export interface TlsFailure {
  /** `verify`: the certificate was refused; `handshake`: TLS itself failed (version, alert, plain HTTP). */
  kind: "verify" | "handshake";
  /** A metric label: name_mismatch, unknown_ca, expired, not_yet_valid, bad_certificate, handshake. */
  label: string;
  /** For the log: what it means and node's own words. */
  reason: string;
}

/** OpenSSL's verify results (node's err.code) that mean the issuer is not trusted here. */
const UNKNOWN_CA = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_UNTRUSTED",
]);

/** The rest of OpenSSL's verify results node reports as err.code. */
const OTHER_VERIFY = new Set([
  "CERT_SIGNATURE_FAILURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_REJECTED",
]);

/** What a failed upstream connection's error says about TLS; undefined when it is not a TLS failure. */
export function tlsFailureOf(err: unknown): TlsFailure | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const message = (err as Error).message;
  const verify = (label: string, meaning: string): TlsFailure => ({
    kind: "verify",
    label,
    reason: `${meaning}: ${message}`,
  });
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH")
    return verify("name_mismatch", "certificate name mismatch");
  if (UNKNOWN_CA.has(code)) return verify("unknown_ca", "certificate from an unknown CA");
  if (code === "CERT_HAS_EXPIRED") return verify("expired", "certificate expired");
  if (code === "CERT_NOT_YET_VALID") return verify("not_yet_valid", "certificate not yet valid");
  if (OTHER_VERIFY.has(code)) return verify("bad_certificate", `certificate refused (${code})`);
  if (code.startsWith("ERR_SSL_") || code === "EPROTO")
    return { kind: "handshake", label: "handshake", reason: `TLS handshake failed: ${message}` };
  return undefined;
}
