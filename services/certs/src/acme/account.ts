import { createHash } from "node:crypto";
import { decrypt, encrypt } from "@switchyard/certstore";
import type { KV } from "@switchyard/runtime";
import { newKeyPair } from "@switchyard/x509";
import { CertsError } from "../errors.js";

interface StoredAccount {
  directory: string;
  /** PKCS#8 PEM sealed with the KV key, context = the KV key name. */
  key: string;
}

/**
 * The ACME account key for `directoryUrl`: created once (KV create, so replicas racing at the first
 * start all end up with the same key), kept sealed in the state bucket.
 */
export async function accountKey(state: KV, directoryUrl: string, kvKey: Buffer): Promise<string> {
  const name = `account.${createHash("sha256").update(directoryUrl).digest("hex").slice(0, 32)}`;
  let entry = await state.get(name);
  if (entry?.operation !== "PUT") {
    const { pem } = await newKeyPair();
    const stored: StoredAccount = { directory: directoryUrl, key: encrypt(pem, kvKey, name) };
    try {
      await state.create(name, JSON.stringify(stored));
    } catch {
      // Another replica created it first: use theirs.
    }
    entry = await state.get(name);
  }
  if (!entry) throw new CertsError(`ACME account key for ${directoryUrl}: not in KV after creating it`);
  return decrypt(entry.json<StoredAccount>().key, kvKey, name).toString();
}
