import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as never);

export type KeyPair = webcrypto.CryptoKeyPair;

export const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A new P-256 key pair, and its private key as PKCS#8 PEM. */
export async function newKeyPair(): Promise<{ keys: KeyPair; pem: string }> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const pem = createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({
    type: "pkcs8",
    format: "pem",
  });
  return { keys, pem: pem.toString() };
}

/** A P-256 key pair from its PKCS#8 PEM private key. */
export async function importKeyPair(pem: string): Promise<KeyPair> {
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: "pkcs8", format: "der" });
  const publicDer = createPublicKey(key).export({ type: "spki", format: "der" });
  return {
    privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, ecdsa, true, ["sign"]),
    publicKey: await webcrypto.subtle.importKey("spki", publicDer, ecdsa, true, ["verify"]),
  };
}

export { x509 };
