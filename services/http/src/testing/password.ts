/** Test-only: a scrypt hash in the config's `scrypt$N$r$p$salt$hash` form (mail's format). */
import { randomBytes, scryptSync } from "node:crypto";

export function scryptHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 });
  return `scrypt$16384$8$1$${salt.toString("base64")}$${key.toString("base64")}`;
}
