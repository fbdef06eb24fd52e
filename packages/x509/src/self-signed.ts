import {
  type CertificateAndKey,
  type CertificateRequest,
  pemOf,
  serialNumber,
  serverExtensions,
  subjectFor,
  validityOf,
} from "./certificate-request.js";
import { ECDSA_P256, newKeyPair, x509 } from "./key-pair.js";

/**
 * A new P-256 key and a self-signed TLS server certificate for `names` (DNS names and IP
 * addresses). A client trusts it by taking the certificate itself as its CA.
 */
export async function makeSelfSignedCertificate(request: CertificateRequest): Promise<CertificateAndKey> {
  const validity = validityOf(request);
  const { keys, pem } = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectFor(request.names),
    ...validity,
    keys,
    signingAlgorithm: ECDSA_P256,
    extensions: await serverExtensions(request.names, keys.publicKey),
  });
  return { certPem: pemOf(cert), keyPem: pem };
}
