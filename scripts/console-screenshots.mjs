#!/usr/bin/env node
// Screenshots of each console view into docs/console/*.png (the README shows them): runs the
// console's browser test (packages/console/src/e2e) against its real local stack with
// SWITCHYARD_CONSOLE_SCREENSHOTS set. Build first: npx turbo run build.
import { spawn } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const dir = resolve(root, process.argv[2] ?? "docs/console");
const child = spawn(
  process.execPath,
  ["--test", "--test-timeout=300000", resolve(root, "packages/console/dist/e2e")],
  { stdio: "inherit", env: { ...process.env, SWITCHYARD_CONSOLE_SCREENSHOTS: dir } },
);
child.on("exit", (code, signal) => {
  if (code === 0) console.error(`screenshots in ${dir}`);
  process.exit(code ?? (signal ? 1 : 0));
});
