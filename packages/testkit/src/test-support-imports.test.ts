import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { findTestSupportImports } from "./test-support-imports.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

test("no production file under services/*/src or packages/*/src imports testing/ or @switchyard/testkit", async () => {
  const found = await findTestSupportImports(REPO);
  assert.deepEqual(
    found,
    [],
    `test support imported by production code (move the importer under testing/ or e2e/, or stop importing):\n${found
      .map((f) => `  ${f.file}: ${f.specifier}`)
      .join("\n")}`,
  );
});

test("the check finds every way of importing test support, and allows it in tests, testing/, e2e/ and testkit", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "test-support-imports-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    // Production files: each import of test support is found.
    "services/a/src/server.ts":
      'import { startStack } from "./testing/test-stack.js";\nimport { x } from "./x.js";\n',
    "services/a/src/wire/codec.ts": 'export { peer } from "../testing/peers.js";\n',
    "services/a/src/main.ts": 'import {\n  waitFor,\n  freePort,\n} from "@switchyard/testkit";\n',
    "packages/b/src/lazy.ts":
      'const kit = await import("@switchyard/testkit");\nimport "../src/testing/setup.js";\n',
    "packages/b/src/spawn.ts": 'const fixture = new URL("./testing/fixture.js", import.meta.url);\n',
    // Test code and test support: allowed.
    "services/a/src/server.test.ts": 'import { startStack } from "./testing/test-stack.js";\n',
    "services/a/src/e2e/flow.e2e.test.ts": 'import { waitFor } from "@switchyard/testkit";\n',
    "services/a/src/e2e/helpers.ts": 'import { waitFor } from "@switchyard/testkit";\n',
    "services/a/src/testing/test-stack.ts": 'import { startNatsServer } from "@switchyard/testkit";\n',
    "packages/testkit/src/pebble.ts": 'import { selfSigned } from "./testing/anything.js";\n',
    // A name that merely contains "testing" is not a testing/ folder.
    "packages/b/src/ok.ts":
      'import { y } from "./load-testing.js";\nimport { z } from "@switchyard/runtime";\n',
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), text);
  }
  assert.deepEqual(await findTestSupportImports(root), [
    { file: "packages/b/src/lazy.ts", specifier: "../src/testing/setup.js" },
    { file: "packages/b/src/lazy.ts", specifier: "@switchyard/testkit" },
    { file: "packages/b/src/spawn.ts", specifier: "./testing/fixture.js" },
    { file: "services/a/src/main.ts", specifier: "@switchyard/testkit" },
    { file: "services/a/src/server.ts", specifier: "./testing/test-stack.js" },
    { file: "services/a/src/wire/codec.ts", specifier: "../testing/peers.js" },
  ]);
});
