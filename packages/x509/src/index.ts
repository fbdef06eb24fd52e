export { CertificateAuthority, type CertificateAuthorityRequest } from "./certificate-authority.js";
export type { CertificateAndKey, CertificateRequest } from "./certificate-request.js";
export { CaLoadError, CertificateRequestError, X509Error } from "./errors.js";
export { ECDSA_P256, importKeyPair, type KeyPair, newKeyPair } from "./key-pair.js";
export { makeSelfSignedCertificate } from "./self-signed.js";
