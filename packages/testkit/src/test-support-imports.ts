import { readdir, readFile } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";

/** One production file that imports test support. */
export interface TestSupportImport {
  /** The file, relative to the repository root, with `/` separators. */
  file: string;
  /** The import specifier as written. */
  specifier: string;
}

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;
/** `from "x"` (import and export), `import "x"`, `import("x")`, `require("x")`, `new URL("x", …)`. */
const SPECIFIERS = [
  /\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']/g,
  /\brequire\s*\(\s*["']([^"']+)["']/g,
  /\bnew\s+URL\s*\(\s*["']([^"']+)["']/g,
];

/** Test code, which may use test support: `*.test.*`, and anything under a `testing/` or `e2e/` folder. */
export function isTestCode(path: string): boolean {
  const parts = path.split("/");
  const name = parts.at(-1) ?? "";
  return /\.test\.[cm]?[tj]s$/.test(name) || parts.includes("testing") || parts.includes("e2e");
}

/** A specifier that reaches test support: `@switchyard/testkit` or any path through a `testing` folder. */
export function isTestSupport(fromFile: string, specifier: string): boolean {
  if (specifier === "@switchyard/testkit" || specifier.startsWith("@switchyard/testkit/")) return true;
  const target = specifier.startsWith(".")
    ? posix.normalize(posix.join(posix.dirname(fromFile), specifier))
    : specifier;
  return target.split("/").includes("testing");
}

/**
 * Every production file under `services/<name>/src` and `packages/<name>/src` (testkit excepted:
 * it is test support) that imports test support. Production code must not: images ship without it.
 */
export async function findTestSupportImports(root: string): Promise<TestSupportImport[]> {
  const found: TestSupportImport[] = [];
  for (const group of ["services", "packages"]) {
    const units = await readdir(join(root, group), { withFileTypes: true }).catch(() => []);
    for (const unit of units) {
      if (!unit.isDirectory() || (group === "packages" && unit.name === "testkit")) continue;
      const src = join(root, group, unit.name, "src");
      const entries = await readdir(src, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isFile() || !SOURCE.test(entry.name) || entry.name.endsWith(".d.ts")) continue;
        const file = relative(root, join(entry.parentPath, entry.name)).split(sep).join("/");
        if (isTestCode(file)) continue;
        const text = await readFile(join(root, file), "utf8");
        for (const pattern of SPECIFIERS) {
          for (const match of text.matchAll(pattern)) {
            const specifier = match[1] as string;
            if (isTestSupport(file, specifier)) found.push({ file, specifier });
          }
        }
      }
    }
  }
  return found.sort((a, b) => a.file.localeCompare(b.file) || a.specifier.localeCompare(b.specifier));
}
