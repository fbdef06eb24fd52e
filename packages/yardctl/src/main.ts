#!/usr/bin/env node
/** yardctl: the Switchyard admin CLI. `yardctl help` lists the commands. */
import { run } from "./cli.js";

// `yardctl workers | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
