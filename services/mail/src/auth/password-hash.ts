#!/usr/bin/env node
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { fileURLToPath } from "node:url";

const defaults = { N: 16384, r: 8, p: 1 };

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64: what the config's `passwordHash` holds. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, 32, defaults);
  return `scrypt$${defaults.N}$${defaults.r}$${defaults.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** True when `password` matches `stored`; false for a malformed hash (never throws on input). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] as string, "base64");
  const expected = Buffer.from(parts[5] as string, "base64");
  if (expected.length < 16) return false;
  try {
    const key = await derive(password, salt, expected.length, { N, r, p });
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

// `node services/mail/dist/auth/password-hash.js <password>` prints a hash for the config.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const password = process.argv[2];
  if (!password) {
    process.stderr.write("usage: password-hash.js <password>\n");
    process.exitCode = 2;
  } else {
    process.stdout.write(`${await hashPassword(password)}\n`);
  }
}
