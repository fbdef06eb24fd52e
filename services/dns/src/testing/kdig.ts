import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Dig {
  status: string;
  flags: string[];
  /** Record lines of the answer, authority and additional sections: "name ttl class type rdata". */
  answer: string[];
  authority: string[];
  additional: string[];
}

/** kdig's full output, read: status, header flags, and the sections' records (port 0: `args` name it). */
export async function kdig(port: number, ...args: string[]): Promise<Dig> {
  const target = port === 0 ? [] : ["-p", String(port)];
  const { stdout } = await run("kdig", ["@127.0.0.1", ...target, "+time=3", "+retry=1", ...args]);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? "none";
  const flags = (/;; Flags: ([^;]*);/.exec(stdout)?.[1] ?? "").trim().split(/\s+/);
  const sections: Record<string, string[]> = { answer: [], authority: [], additional: [] };
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const header = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (header) current = sections[(header[1] as string).toLowerCase()];
    else if (line.startsWith(";;") || line.trim() === "") current = line.trim() === "" ? undefined : current;
    else if (current && !line.startsWith(";")) current.push(line.split(/\s+/).join(" "));
  }
  return {
    status,
    flags,
    answer: sections.answer ?? [],
    authority: sections.authority ?? [],
    additional: sections.additional ?? [],
  };
}
