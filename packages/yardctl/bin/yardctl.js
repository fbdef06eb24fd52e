#!/usr/bin/env node
// The `yardctl` command. Committed (dist/ is not) so that `npm install` links it on a fresh clone
// before anything is built; it runs the compiled CLI, or says how to build it.
import { access } from "node:fs/promises";

const main = new URL("../dist/main.js", import.meta.url);
try {
  await access(main);
} catch {
  process.stderr.write(
    "yardctl is not built yet: run `npm start` (or `npx turbo run build --filter=@switchyard/yardctl`) in the Switchyard checkout first\n",
  );
  process.exit(1);
}
await import(main.href);
