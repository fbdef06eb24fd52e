import { randomBytes } from "node:crypto";
import { decrypt, encrypt } from "@switchyard/certstore";
import type { KV } from "@switchyard/runtime";
import { CertificateAuthority } from "@switchyard/x509";
import { CertsError } from "../errors.js";

const CA_KEY = "ca";
const CA_LIFETIME_DAYS = 10 * 365;

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
  private constructor(private readonly ca: CertificateAuthority) {}

  get certPem(): string {
    return this.ca.certPem;
  }

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
    return new InternalCa(await CertificateAuthority.fromPem(stored.cert, keyPem));
  }

  /** A new key and a certificate for `names` (the first is the subject CN), valid `lifetimeMs` from now. */
  async issue(names: string[], lifetimeMs: number): Promise<Issued> {
    const leaf = await this.ca.issue({ names, notAfter: new Date(Date.now() + lifetimeMs) });
    return { chain: leaf.certPem, key: leaf.keyPem };
  }
}

async function makeCa(kvKey: Buffer): Promise<StoredCa> {
  const ca = await CertificateAuthority.create({
    subject: `CN=Switchyard internal CA ${randomBytes(4).toString("hex")}, O=Switchyard`,
    days: CA_LIFETIME_DAYS,
  });
  return { cert: ca.certPem, key: encrypt(ca.keyPem, kvKey, CA_KEY) };
}
