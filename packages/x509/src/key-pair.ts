import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 signs through WebCrypto; Node's implementation, set once for every user.
x509.cryptoProvider.set(webcrypto as never);

export type KeyPair = webcrypto.CryptoKeyPair;

/** The one key type Switchyard makes: ECDSA on P-256, signatures with SHA-256. */
export const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A new P-256 key pair, and its private key as PKCS#8 PEM. */
export async function newKeyPair(): Promise<{ keys: KeyPair; pem: string }> {
  const keys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]);
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const pem = createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({
    type: "pkcs8",
    format: "pem",
  });
  return { keys, pem: pem.toString() };
}

/** A P-256 key pair from its PEM private key (PKCS#8 or SEC1). */
export async function importKeyPair(pem: string): Promise<KeyPair> {
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: "pkcs8", format: "der" });
  const publicDer = createPublicKey(key).export({ type: "spki", format: "der" });
  return {
    privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, ECDSA_P256, true, ["sign"]),
    publicKey: await webcrypto.subtle.importKey("spki", publicDer, ECDSA_P256, true, ["verify"]),
  };
}

export { x509 };
