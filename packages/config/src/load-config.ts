import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "./errors.js";
import { formatIssues } from "./format-issues.js";
import { impliedRoutes } from "./implied-routes.js";
import type { RouteConfig } from "./route-schema.js";
import { configSchema, type SwitchyardConfig } from "./schema.js";

/** Validated config plus the routes the edge serves: the file's routes, then implied ones it did not replace. */
export interface LoadedConfig extends SwitchyardConfig {
  source: string;
  effectiveRoutes: Array<RouteConfig & { origin: string }>;
}

/** Parses and validates config text; throws ConfigError naming file:line, path and problem. */
export function parseConfig(text: string, source = "<config>"): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${source} is not valid YAML`,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return `${source}:${pos.line}:${pos.col} ${e.message.split("\n")[0]}`;
      }),
    );
  }
  const raw = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      `${source} is not a valid Switchyard config`,
      formatIssues(result.error.issues, source, doc, lines),
    );
  }
  const config = result.data;
  const named = new Set(config.routes.map((r) => r.name));
  const implied = impliedRoutes(config).filter((r) => !named.has(r.name));
  return {
    ...config,
    source,
    effectiveRoutes: [
      ...config.routes.map((r) => ({ ...r, origin: "config" })),
      ...implied.map((r) => ({ ...r, origin: r.name.split("-")[0] ?? "implied" })),
    ],
  };
}

/** Reads and validates a config file. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}`, [(err as Error).message], { cause: err });
  }
  return parseConfig(text, path);
}
