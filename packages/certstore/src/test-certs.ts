/** Test-only: self-signed certificates with chosen names and validity, and records holding them. */
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { type CertificateRecord, describeChain } from "./record.js";
import { encrypt } from "./seal.js";

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY = 86_400_000;

export interface TestCert {
  cert: string;
  key: string;
  serial: string;
}

/** A self-signed P-256 certificate for `names`, valid from `fromDays` to `toDays` relative to now. */
export async function makeCert(names: string[], fromDays = -1, toDays = 30): Promise<TestCert> {
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const bytes = randomBytes(8);
  bytes[0] = 0x10 | ((bytes[0] as number) & 0x6f);
  const serial = bytes.toString("hex");
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: `CN=${names[0]}`,
    notBefore: new Date(Date.now() + fromDays * DAY),
    notAfter: new Date(Date.now() + toDays * DAY),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns", value })))],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem"), key, serial };
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
