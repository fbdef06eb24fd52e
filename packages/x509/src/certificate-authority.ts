import { createPublicKey } from "node:crypto";
import {
  type CertificateAndKey,
  type CertificateRequest,
  pemOf,
  serialNumber,
  serverExtensions,
  subjectFor,
  validityOf,
} from "./certificate-request.js";
import { CaLoadError } from "./errors.js";
import { ECDSA_P256, importKeyPair, type KeyPair, newKeyPair, x509 } from "./key-pair.js";

export interface CertificateAuthorityRequest {
  /** Distinguished name, e.g. `CN=Switchyard internal CA, O=Switchyard` (written by us, not by users). */
  subject: string;
  /** Lifetime in days from now (default 365). */
  days?: number;
}

/**
 * A CA (P-256 key, may sign leaves only: path length 0) that issues TLS server certificates. Its
 * key is held in memory; `certPem` is what clients trust, `keyPem` what a caller stores to load it
 * again with `fromPem`.
 */
export class CertificateAuthority {
  private constructor(
    readonly certPem: string,
    readonly keyPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly keys: KeyPair,
  ) {}

  /** A new CA with a new key. */
  static async create(request: CertificateAuthorityRequest): Promise<CertificateAuthority> {
    const validity = validityOf(request);
    const { keys, pem } = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: request.subject,
      ...validity,
      keys,
      signingAlgorithm: ECDSA_P256,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new CertificateAuthority(pemOf(cert), pem, cert, keys);
  }

  /** A CA made earlier, from its certificate and private key; refuses a key that is not the certificate's. */
  static async fromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
    try {
      const cert = new x509.X509Certificate(certPem);
      const keys = await importKeyPair(keyPem);
      const fromKey = createPublicKey(keyPem).export({ type: "spki", format: "der" });
      if (!Buffer.from(cert.publicKey.rawData).equals(fromKey))
        throw new CaLoadError(`the private key does not belong to the CA certificate ${cert.subject}`);
      return new CertificateAuthority(certPem, keyPem, cert, keys);
    } catch (err) {
      if (err instanceof CaLoadError) throw err;
      throw new CaLoadError("cannot load the CA certificate and key", { cause: err });
    }
  }

  /** The CA certificate's subject, as text. */
  get subject(): string {
    return this.cert.subject;
  }

  /**
   * A new P-256 key and a certificate for `request.names` (with `request.ocspUrl` as its OCSP
   * responder, if given), signed by this CA (the chain is the leaf only).
   */
  async issue(request: CertificateRequest): Promise<CertificateAndKey> {
    const validity = validityOf(request);
    const { keys, pem } = await newKeyPair();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: subjectFor(request.names),
      issuer: this.cert.subjectName,
      ...validity,
      signingAlgorithm: ECDSA_P256,
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      extensions: [
        ...(await serverExtensions(request.names, keys.publicKey, request.ocspUrl)),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
      ],
    });
    return { certPem: pemOf(leaf), keyPem: pem };
  }
}
