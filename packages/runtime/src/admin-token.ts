import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { SecretFileError } from "./errors.js";

/** Reads the admin token from `file`, trimmed. Fails naming the file when it is missing or empty. */
export async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = errorCode(error) === "ENOENT" ? "does not exist" : "cannot be read";
    throw new SecretFileError(file, `admin token file ${file} ${reason}`, { cause: error });
  }
  const token = text.trim();
  if (token === "") {
    throw new SecretFileError(file, `admin token file ${file} is empty`);
  }
  return token;
}

/**
 * Returns the admin token in `file`, first creating it (random 32 bytes as hex, mode 0600,
 * parent directories included) when it does not exist.
 */
export async function ensureToken(file: string): Promise<string> {
  try {
    return await readToken(file);
  } catch (error) {
    if (!(error instanceof SecretFileError) || errorCode(error.cause) !== "ENOENT") {
      throw error;
    }
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("hex");
  try {
    await writeFile(file, token + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    // Another process created it between our read and write: use theirs.
    if (errorCode(error) === "EEXIST") return readToken(file);
    throw new SecretFileError(file, `admin token file ${file} cannot be created`, { cause: error });
  }
  return token;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
