import assert from "node:assert/strict";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startEdge } from "./edge-harness.js";

/** The harness dirs in the tmpdir whose config names `port` (other tests may be making their own). */
async function dirsNaming(port: number): Promise<string[]> {
  const names = (await readdir(tmpdir())).filter((n) => n.startsWith("switchyard-edge-"));
  const found: string[] = [];
  for (const name of names) {
    const config = await readFile(join(tmpdir(), name, "switchyard.yaml"), "utf8").catch(() => "");
    if (config.includes(String(port))) found.push(name);
  }
  return found;
}

test("an edge that cannot start rejects with its error and leaves no run dir behind", async (t) => {
  const taken = createServer();
  taken.listen(0, "127.0.0.1");
  await once(taken, "listening");
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  await assert.rejects(
    startEdge({
      routes: [{ name: "svc", match: { ports: [port] }, action: { type: "handoff", pool: "svc" } }],
    }),
    /EADDRINUSE/,
  );
  assert.deepEqual(await dirsNaming(port), []);
});
