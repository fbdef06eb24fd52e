import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/**
 * Password hashes as the config holds them (mail's `passwordHash`, http's `basicAuth`):
 * `scrypt$N$r$p$salt$hash`, salt and hash in base64. `node services/mail/dist/auth/password-hash.js
 * <password>` prints one.
 */
const defaults = { N: 16384, r: 8, p: 1 };

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** A new `scrypt$N$r$p$salt$hash` for `password`, with a random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, 32, defaults);
  return `scrypt$${defaults.N}$${defaults.r}$${defaults.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/**
 * A well-formed hash that no password matches, for checking an unknown user at the same cost as a
 * known one (so timing does not tell which users exist).
 */
export function decoyPasswordHash(): string {
  return `scrypt$${defaults.N}$${defaults.r}$${defaults.p}$${randomBytes(16).toString("base64")}$${randomBytes(32).toString("base64")}`;
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
