import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { KvKeyError } from "./errors.js";

export const KV_KEY_BYTES = 32;

/**
 * Reads the 32-byte AES-256-GCM key that seals private keys in KV, from a file holding it as 64 hex
 * characters or as base64 (surrounding whitespace ignored). Fails naming the file.
 */
export async function loadKvKey(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = (await readFile(file, "utf8")).trim();
  } catch (error) {
    const reason = errorCode(error) === "ENOENT" ? "does not exist" : "cannot be read";
    throw new KvKeyError(file, `KV key file ${file} ${reason}`, { cause: error });
  }
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : decodeBase64(text);
  if (key?.length !== KV_KEY_BYTES) {
    throw new KvKeyError(file, `KV key file ${file} does not hold 32 bytes as 64 hex characters or base64`);
  }
  return key;
}

/**
 * Returns the KV key in `file`, first creating it (32 random bytes as hex, mode 0600, parent
 * directories included) when it does not exist; a concurrent creator wins and its key is used.
 */
export async function ensureKvKey(file: string): Promise<Buffer> {
  try {
    return await loadKvKey(file);
  } catch (error) {
    if (!(error instanceof KvKeyError) || errorCode(error.cause) !== "ENOENT") throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(KV_KEY_BYTES);
  try {
    await writeFile(file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if (errorCode(error) === "EEXIST") return loadKvKey(file);
    throw new KvKeyError(file, `KV key file ${file} cannot be created`, { cause: error });
  }
  return key;
}

function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, "base64");
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
