import { spawn } from "node:child_process";
import { NftError } from "../errors.js";

export interface NftResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const TIMEOUT_MS = 30_000;

/** Runs the `nft` binary; the only place that does. Input goes over stdin, never through a shell. */
export class NftRunner {
  constructor(
    private readonly binary = "nft",
    /** Prefix for the command, e.g. `["ip", "netns", "exec", "x"]`; empty in production. */
    private readonly wrapper: readonly string[] = [],
  ) {}

  run(args: readonly string[], input?: string): Promise<NftResult> {
    const [command, ...rest] = [...this.wrapper, this.binary, ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(command!, rest, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        stdout += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
      });
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new NftError(`cannot run ${this.binary}`, "", { cause: error }));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr: stderr.trim() });
      });
      child.stdin.on("error", () => {}); // nft may exit before reading everything; "close" reports it
      child.stdin.end(input ?? "");
    });
  }

  /** Applies a file of commands as one transaction; throws NftError with nft's message when refused. */
  async apply(text: string): Promise<void> {
    const result = await this.run(["-f", "-"], text);
    if (result.code !== 0) throw new NftError("nft refused the ruleset", result.stderr);
  }

  /** Checks a file without committing it (`nft -c`). */
  async check(text: string): Promise<void> {
    const result = await this.run(["-c", "-f", "-"], text);
    if (result.code !== 0) throw new NftError("nft check failed", result.stderr);
  }

  /** `nft -j list table`, parsed; null when the table does not exist. */
  async listTable(family: string, table: string): Promise<unknown[] | null> {
    const result = await this.run(["-j", "list", "table", family, table]);
    if (result.code !== 0) {
      if (/No such file or directory/.test(result.stderr)) return null;
      throw new NftError(`nft list table ${family} ${table} failed`, result.stderr);
    }
    try {
      const parsed = JSON.parse(result.stdout) as { nftables?: unknown[] };
      return parsed.nftables ?? [];
    } catch (error) {
      throw new NftError("nft -j printed something that is not JSON", result.stdout.slice(0, 200), {
        cause: error,
      });
    }
  }
}
