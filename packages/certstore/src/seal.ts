import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptError } from "./errors.js";
import { KV_KEY_BYTES } from "./kv-key.js";

const PREFIX = "aes256gcm";

/**
 * Seals `plain` with AES-256-GCM under `key` (32 bytes): a fresh 12-byte IV each time, `context`
 * bound as additional authenticated data (a sealed key moved to another record does not open).
 * Result: `aes256gcm:<iv>:<tag>:<ciphertext>`, each part base64url.
 */
export function encrypt(plain: string | Buffer, key: Buffer, context = ""): string {
  checkKey(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return [PREFIX, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
    .join(":");
}

/** Opens what `encrypt` sealed with the same key and context; DecryptError otherwise. */
export function decrypt(sealed: string, key: Buffer, context = ""): Buffer {
  checkKey(key);
  const parts = sealed.split(":");
  if (parts.length !== 4 || parts[0] !== PREFIX) throw new DecryptError("not an aes256gcm sealed value");
  const [iv, tag, body] = parts.slice(1).map((p) => Buffer.from(p, "base64url")) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16)
    throw new DecryptError("sealed value has a bad IV or tag length");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (error) {
    throw new DecryptError("sealed value does not open with this key (wrong KV key or tampered)", {
      cause: error,
    });
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KV_KEY_BYTES)
    throw new DecryptError(`a KV key has ${KV_KEY_BYTES} bytes, got ${key.length}`);
}
