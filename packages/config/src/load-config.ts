import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "./errors.js";
import { formatIssues } from "./format-issues.js";
import { impliedRoutes } from "./routes/implied-routes.js";
import type { RouteConfig } from "./routes/route-schema.js";
import { configSchema, coveredBy, type SwitchyardConfig } from "./schema.js";

/** Validated config plus the routes the edge serves: the file's routes, then implied ones it did not replace. */
export interface LoadedConfig extends SwitchyardConfig {
  source: string;
  effectiveRoutes: Array<RouteConfig & { origin: string }>;
}

export interface ParseOptions {
  /**
   * Refuse a file with no settings (empty, only whitespace or comments) and a config whose route
   * table would be empty unless `edge.allowEmptyRoutes` is true. loadConfig, the path every
   * service's start and reload takes, sets it: a truncated file must not withdraw every listener.
   */
  refuseEmpty?: boolean;
}

/** Parses and validates config text; throws ConfigError naming file:line, path and problem. */
export function parseConfig(text: string, source = "<config>", options: ParseOptions = {}): LoadedConfig {
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
  const parsed: unknown = doc.toJS();
  if (options.refuseEmpty && (parsed === null || parsed === undefined)) {
    throw new ConfigError(`${source} is empty (nothing but whitespace or comments)`, [
      `${source}: refusing a config with no settings: it would remove every route and listener`,
    ]);
  }
  const raw = parsed ?? {};
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      `${source} is not a valid Switchyard config`,
      formatIssues(result.error.issues, source, doc, lines),
    );
  }
  const config = withImpliedCertificates(result.data);
  const named = new Set(config.routes.map((r) => r.name));
  const allImplied = impliedRoutes(config);
  const implied = allImplied.filter((r) => !named.has(r.name));
  // A file route replacing an implied one, to the same pool, keeps its role unless it names its own.
  const impliedByName = new Map(allImplied.map((r) => [r.name, r]));
  const roleOf = (r: RouteConfig) => {
    if (r.role !== undefined || r.action.type !== "handoff") return r.role;
    const implied = impliedByName.get(r.name);
    return implied?.action.type === "handoff" && implied.action.pool === r.action.pool
      ? implied.role
      : undefined;
  };
  const effectiveRoutes = [
    ...config.routes.map((r) => {
      const role = roleOf(r);
      return { ...r, ...(role ? { role } : {}), origin: "config" };
    }),
    ...implied.map((r) => ({ ...r, origin: r.name.split("-")[0] ?? "implied" })),
  ];
  if (options.refuseEmpty && effectiveRoutes.length === 0 && !config.edge.allowEmptyRoutes) {
    throw new ConfigError(`${source} has an empty route table`, [
      `${source}: no routes and no dns, mail or certs section: every listener would be withdrawn; ` +
        "set edge.allowEmptyRoutes: true to run without routes on purpose",
    ]);
  }
  return { ...config, source, effectiveRoutes };
}

/**
 * The names of `tls: auto` sites join certs.certificates (one certificate per site, for the names no
 * listed certificate covers already), so the certs service issues and renews them like any other.
 */
function withImpliedCertificates(config: SwitchyardConfig): SwitchyardConfig {
  const { http, certs } = config;
  if (!http || !certs) return config;
  const certificates = [...certs.certificates];
  for (const site of http.sites) {
    if (site.tls !== "auto") continue;
    const names = [...new Set(site.domains.map((d) => d.toLowerCase().replace(/\.$/, "")))].filter(
      (d) => !coveredBy(certificates, d),
    );
    const [name, ...altNames] = names;
    if (name === undefined) continue;
    const wildcard = names.some((n) => n.startsWith("*."));
    certificates.push({ name, altNames, challenge: wildcard ? "dns-01" : "http-01" });
  }
  return { ...config, certs: { ...certs, certificates } };
}

/** Reads and validates a config file; refuses an empty one and an empty route table (see ParseOptions). */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}`, [(err as Error).message], { cause: err });
  }
  return parseConfig(text, path, { refuseEmpty: true });
}
