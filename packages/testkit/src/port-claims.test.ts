import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { claimPort, portClaimant } from "./port-claims.js";

const moduleUrl = pathToFileURL(new URL("./port-claims.js", import.meta.url).pathname).href;

/** A second process that claims `port`, says what it got, and lives until killed. */
async function claimInChild(port: number): Promise<{ claimed: boolean; kill: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { claimPort } = await import(${JSON.stringify(moduleUrl)});
       process.stdout.write(String(await claimPort(${port})) + "\\n");
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  return {
    claimed: line.toString().trim() === "true",
    kill: async () => {
      child.kill("SIGKILL");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}

test("a port another live process claimed is refused; once that process is gone it can be taken", async (t) => {
  const port = 29_000 + (process.pid % 900);
  const other = await claimInChild(port);
  t.after(other.kill);
  assert.equal(other.claimed, true, "the other process got the claim");
  assert.equal(await claimPort(port), false, "refused while its holder lives");
  await other.kill();
  // SIGKILL: no exit handler ran, the claim file is left behind with a dead pid.
  assert.notEqual(portClaimant(port), process.pid);
  assert.equal(await claimPort(port), true, "a dead process's claim is taken over");
  assert.equal(portClaimant(port), process.pid);
  assert.equal(await claimPort(port), false, "never handed to this process twice");
});
