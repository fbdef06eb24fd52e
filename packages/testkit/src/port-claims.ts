import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Ports claimed across processes: `npm test` runs two test files at once (and developers run
 * suites side by side), each picking random ports; a port one process found free and is about to
 * give to a server it starts can be found free by the other in that gap, and the second server
 * fails with EADDRINUSE. A claim is a file named after the port holding the claimant's pid; a claim
 * whose process is gone is taken over.
 */
const dir = join(tmpdir(), "switchyard-test-ports");
const mine = new Set<number>();
let cleanupArmed = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True when this process now holds `port` (it did not already, and no live process does). */
export async function claimPort(port: number): Promise<boolean> {
  if (mine.has(port)) return false;
  if (!cleanupArmed) {
    cleanupArmed = true;
    mkdirSync(dir, { recursive: true });
    // At exit only synchronous work runs: give our claims back so the next run finds them free.
    process.once("exit", () => {
      for (const p of mine) rmSync(join(dir, String(p)), { force: true });
    });
  }
  const file = join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: "wx" });
      mine.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (holder > 0 && alive(holder)) return false;
    // A dead (or half-written) claim: remove it and try once more; a racing claimant may win.
    await unlink(file).catch(() => {});
  }
  return false;
}

/** The pid holding `port`'s claim, or undefined (for tests of this module). */
export function portClaimant(port: number): number | undefined {
  try {
    return Number(readFileSync(join(dir, String(port)), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}
