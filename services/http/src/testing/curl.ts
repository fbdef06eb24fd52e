/** Test-only: curl, the real client, run without a shell. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** "1.1" or "2". */
  version: string;
  exitCode: number;
  stderr: string;
}

/**
 * Runs curl with `args` (the URL among them) and returns the last response's status, headers
 * (lower-cased, last value wins), body and HTTP version. Never throws for an HTTP status; a
 * transport failure has exitCode != 0 and status 0.
 */
export async function curl(args: string[], timeoutMs = 60_000): Promise<CurlResult> {
  // (-D /dev/stderr makes this curl crash under a pipe: the heads go to a file.)
  const headFile = join(tmpdir(), `switchyard-curl-${randomBytes(6).toString("hex")}`);
  const run = await new Promise<{ err: Error | null; stdout: Buffer; stderr: string }>((resolve) => {
    execFile(
      "curl",
      ["-sS", "--max-time", String(timeoutMs / 1000), "-D", headFile, "-o", "-", ...args],
      { encoding: "buffer", maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs + 5000 },
      (err, stdout, stderr) => resolve({ err, stdout, stderr: stderr.toString("latin1") }),
    );
  });
  const heads = await readFile(headFile, "latin1").catch(() => "");
  await rm(headFile, { force: true });
  return parse(run, heads);
}

function parse(run: { err: Error | null; stdout: Buffer; stderr: string }, text: string): CurlResult {
  const { err, stdout, stderr } = run;
  const heads = text.split(/\r?\n(?=HTTP\/)/);
  const last = heads[heads.length - 1] ?? "";
  const lines = last.split(/\r?\n/);
  const m = /^HTTP\/([\d.]+) (\d{3})/.exec(lines[0] ?? "");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return {
    status: m ? Number(m[2]) : 0,
    version: m?.[1] ?? "",
    headers,
    body: stdout,
    exitCode: err ? Number((err as { code?: number }).code ?? 1) || 1 : 0,
    stderr,
  };
}

/** The test sites' names: `<site>.switchyard.test`. */
export const siteName = (site: string) => `${site}.switchyard.test`;

/**
 * curl to `https://<site>.switchyard.test<path>` through the edge's https port (resolved to
 * 127.0.0.1, the stack's CA trusted); `stack` is read at call time, so it may be set in `before`.
 */
export function siteGetter(stack: () => { caFile: string; https: number }) {
  return (site: string, path: string, args: string[] = []): Promise<CurlResult> => {
    const { caFile, https } = stack();
    const host = siteName(site);
    return curl([
      "--cacert",
      caFile,
      "--resolve",
      `${host}:${https}:127.0.0.1`,
      ...args,
      `https://${host}:${https}${path}`,
    ]);
  };
}
