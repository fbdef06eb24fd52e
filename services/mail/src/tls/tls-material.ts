import { readFile } from "node:fs/promises";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { TlsSetupError } from "../errors.js";

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  selfSigned: boolean;
}

/**
 * The certificate the mail ports present: the configured files, or (until the certs service
 * delivers one over NATS) a self-signed P-256 certificate for `hostname`, valid a year, made in
 * memory once at start (`@switchyard/x509`).
 */
export async function loadTlsMaterial(
  tls: { certFile?: string | undefined; keyFile?: string | undefined },
  hostname: string,
): Promise<TlsMaterial> {
  if (tls.certFile && tls.keyFile) {
    try {
      const [cert, key] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile)]);
      return { cert, key, selfSigned: false };
    } catch (err) {
      throw new TlsSetupError(`cannot read ${tls.certFile} / ${tls.keyFile}`, { cause: err });
    }
  }
  try {
    const { certPem, keyPem } = await makeSelfSignedCertificate({ names: [hostname], days: 365 });
    return { cert: Buffer.from(certPem), key: Buffer.from(keyPem), selfSigned: true };
  } catch (err) {
    throw new TlsSetupError(`cannot make a self-signed certificate for ${hostname}`, { cause: err });
  }
}
