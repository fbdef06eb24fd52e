#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { hashPassword } from "@switchyard/runtime";

// The hash itself lives in @switchyard/runtime (mail's AUTH and http's basic auth both check it).
export { hashPassword, verifyPassword } from "@switchyard/runtime";

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
