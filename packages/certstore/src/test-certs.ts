/** Test-only: self-signed certificates with chosen names and validity, and records holding them. */
import { X509Certificate } from "node:crypto";
import { makeSelfSignedCertificate } from "@switchyard/x509";
import { type CertificateRecord, describeChain } from "./record.js";
import { encrypt } from "./seal.js";

const DAY = 86_400_000;

export interface TestCert {
  cert: string;
  key: string;
  serial: string;
}

/** A self-signed P-256 certificate for `names`, valid from `fromDays` to `toDays` relative to now. */
export async function makeCert(names: string[], fromDays = -1, toDays = 30): Promise<TestCert> {
  const { certPem, keyPem } = await makeSelfSignedCertificate({
    names,
    notBefore: new Date(Date.now() + fromDays * DAY),
    notAfter: new Date(Date.now() + toDays * DAY),
  });
  return { cert: certPem, key: keyPem, serial: new X509Certificate(certPem).serialNumber.toLowerCase() };
}

/** A `certs` bucket record for `cert`, its key sealed with `kvKey`. */
export function recordFor(name: string, cert: TestCert, kvKey: Buffer): CertificateRecord {
  const facts = describeChain(cert.cert);
  return {
    version: 1,
    name,
    names: facts.names,
    chain: cert.cert,
    key: encrypt(cert.key, kvKey, name),
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    issuer: facts.issuer,
    serial: facts.serial,
    source: "internal",
    updatedAt: Date.now(),
  };
}
