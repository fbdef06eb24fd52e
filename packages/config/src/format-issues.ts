import type { Document } from "yaml";
import { isNode, type LineCounter } from "yaml";
import type { z } from "zod";

/** `routes[2].match.ports[0]` from zod's path array. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

function describeInput(issue: z.core.$ZodIssue): string {
  if (issue.code !== "invalid_type" || !("input" in issue)) return "";
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return "";
  const text = JSON.stringify(input);
  return text !== undefined && text.length <= 60 ? ` (got ${text})` : "";
}

/**
 * One line per problem: `file:line:col path: message`, with the line found by walking the YAML
 * document to the node the path names (or its nearest existing parent).
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  source: string,
  doc?: Document,
  lines?: LineCounter,
): string[] {
  return issues.map((issue) => {
    let where = source;
    if (doc && lines) {
      for (let depth = issue.path.length; depth >= 0; depth--) {
        const node = doc.getIn(issue.path.slice(0, depth) as unknown[], true);
        if (isNode(node) && node.range) {
          const pos = lines.linePos(node.range[0]);
          where = `${source}:${pos.line}:${pos.col}`;
          break;
        }
      }
    }
    return `${where} ${formatPath(issue.path)}: ${issue.message}${describeInput(issue)}`;
  });
}
