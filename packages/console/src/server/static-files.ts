/** The built page (dist/web), read into memory once at start: serving never touches the disk. */
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

export async function loadStaticFiles(dir: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for (const relative of await readdir(dir, { recursive: true })) {
    const type = TYPES[extname(relative)];
    if (type === undefined) continue;
    files.set(`/${relative.replaceAll("\\", "/")}`, { body: await readFile(join(dir, relative)), type });
  }
  if (!files.has("/index.html")) throw new Error(`${dir} has no index.html: build the console first`);
  return files;
}
