import { randomBytes } from "node:crypto";
import { decrypt, encrypt } from "@switchyard/certstore";
import type { KV } from "@switchyard/runtime";
import { CertsError } from "./errors.js";
import { ecdsa, importKeyPair, type KeyPair, newKeyPair, x509 } from "./key-pem.js";

const CA_KEY = "ca";
const CA_LIFETIME_MS = 10 * 365 * 86_400_000;

interface StoredCa {
  cert: string;
  /** PKCS#8 PEM sealed with the KV key, context "ca". */
  key: string;
}

export interface Issued {
  chain: string;
  key: string;
}

/**
 * A local CA for offline use: created once by whichever replica gets there first (KV create),
 * kept in the state bucket with its key sealed, and used by every replica to sign certificates for
 * configured names.
 */
export class InternalCa {
  private constructor(
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly keys: KeyPair,
  ) {}

  /** Loads the CA from KV, creating it when there is none. */
  static async open(state: KV, kvKey: Buffer): Promise<InternalCa> {
    let entry = await state.get(CA_KEY);
    if (entry?.operation !== "PUT") {
      const made = await makeCa(kvKey);
      try {
        await state.create(CA_KEY, JSON.stringify(made));
      } catch {
        // Another replica created it first: use theirs.
      }
      entry = await state.get(CA_KEY);
    }
    if (!entry) throw new CertsError("internal CA: not in KV after creating it");
    const stored = entry.json<StoredCa>();
    const keyPem = decrypt(stored.key, kvKey, CA_KEY).toString();
    return new InternalCa(stored.cert, new x509.X509Certificate(stored.cert), await importKeyPair(keyPem));
  }

  /** A new key and a certificate for `names` (the first is the subject CN), valid `lifetimeMs` from now. */
  async issue(names: string[], lifetimeMs: number): Promise<Issued> {
    const { keys, pem } = await newKeyPair();
    const now = Date.now();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${names[0]}`,
      issuer: this.cert.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + lifetimeMs),
      signingAlgorithm: ecdsa,
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns", value }))),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { chain: leaf.toString("pem") + "\n", key: pem };
  }
}

async function makeCa(kvKey: Buffer): Promise<StoredCa> {
  const { keys, pem } = await newKeyPair();
  const now = Date.now();
  const name = `CN=Switchyard internal CA ${randomBytes(4).toString("hex")}, O=Switchyard`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_LIFETIME_MS),
    keys,
    signingAlgorithm: ecdsa,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: encrypt(pem, kvKey, CA_KEY) };
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x10 | ((bytes[0] as number) & 0x6f);
  return bytes.toString("hex");
}
