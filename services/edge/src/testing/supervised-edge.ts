import { join } from "node:path";
import type { TestContext } from "node:test";
import { type EdgeHarness, type ManagedProcess, startProcess } from "@switchyard/testkit";

const repoRoot = join(import.meta.dirname, "../../../..");

/**
 * The edge of `edge` (its config, token and run dir) run again under scripts/supervise.mjs, as
 * `npm start` runs it: the harness's own edge process is stopped first; the supervisor (whose
 * output carries the edge's log lines) is stopped after the test.
 */
export async function superviseEdge(
  t: TestContext,
  edge: EdgeHarness,
  env: Record<string, string> = {},
): Promise<ManagedProcess> {
  await edge.process.stop();
  t.after(() => edge.stop());
  const supervisor = startProcess(
    "supervise",
    process.execPath,
    [
      join(repoRoot, "scripts/supervise.mjs"),
      "edge",
      process.execPath,
      join(repoRoot, "services/edge/dist/main.js"),
    ],
    {
      env: {
        ...process.env,
        SWITCHYARD_CONFIG: edge.configPath,
        SWITCHYARD_ADMIN_TOKEN_FILE: edge.tokenFile,
        SWITCHYARD_RUN_DIR: edge.dir,
        ...env,
      },
    },
  );
  t.after(() => supervisor.stop());
  return supervisor;
}
