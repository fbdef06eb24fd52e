import { DomainPatternError } from "../errors.js";

/**
 * Route matching on names (SNI or Host) and on request paths.
 *
 * Domain patterns, case-insensitive, a trailing dot ignored on both sides:
 * - `example.com` matches that name only.
 * - `*.example.com` matches exactly one more label: `a.example.com`, not
 *   `a.b.example.com` and not `example.com`. This is what a wildcard
 *   certificate covers (RFC 6125 §6.4.3) and what Caddy, Kubernetes Ingress
 *   and Traefik v3 mean by `*.`, so a route and its certificate agree.
 * - `**.example.com` matches one or more labels (`a.example.com`,
 *   `a.b.example.com`), still not `example.com` (Traefik v3's `**.`).
 * - `*` matches any name (but a connection without a name is not matched).
 * Any other use of `*` is a DomainPatternError.
 */

export { DomainPatternError };

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Why `name` (lowercase, no trailing dot) is not a host name, or null. Underscores are allowed. */
function nameProblem(name: string): string | null {
  if (name.length === 0) return "it is empty";
  if (name.length > 253) return "it is longer than 253 characters";
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i < name.length ? name.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (i === labelStart) return "it has an empty label";
      if (i - labelStart > 63) return "it has a label longer than 63 characters";
      labelStart = i + 1;
    } else if (c === 0x2a) {
      return "* may only stand alone or as the whole first label (*. or **.)";
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) {
      return `it has the character ${JSON.stringify(String.fromCharCode(c))}`;
    }
  }
  return null;
}

/**
 * Compiles patterns into a matcher for names from SNI or Host. Throws
 * DomainPatternError for a malformed pattern (config time); the matcher
 * itself never throws and answers false for anything that is not a name.
 */
export function compileDomainPatterns(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const oneLabel = new Set<string>();
  const anyLabels = new Set<string>();
  let any = false;
  for (const pattern of patterns) {
    if (pattern === "*") {
      any = true;
      continue;
    }
    const p = normalizeName(String(pattern));
    const target = p.startsWith("**.") ? anyLabels : p.startsWith("*.") ? oneLabel : exact;
    const rest = target === exact ? p : p.slice(target === anyLabels ? 3 : 2);
    const problem = nameProblem(rest);
    if (problem !== null) throw new DomainPatternError(String(pattern), problem);
    target.add(rest);
  }
  return (name: string): boolean => {
    if (typeof name !== "string" || name.length === 0) return false;
    const n = normalizeName(name);
    if (n.length === 0 || n.charCodeAt(0) === 0x2e || n.includes("..")) return false;
    if (any || exact.has(n)) return true;
    let dot = n.indexOf(".");
    if (dot < 0) return false;
    if (oneLabel.has(n.slice(dot + 1))) return true;
    if (anyLabels.size === 0) return false;
    while (dot >= 0) {
      if (anyLabels.has(n.slice(dot + 1))) return true;
      dot = n.indexOf(".", dot + 1);
    }
    return false;
  };
}

/**
 * True if `path` matches one of the patterns: `*` matches every path, a
 * pattern ending in `*` matches paths starting with what precedes it
 * (`/.well-known/acme-challenge/*` matches `/.well-known/acme-challenge/abc`
 * but not `/.well-known/acme-challenge`), any other pattern the exact path.
 * Case-sensitive, compared as sent (no percent-decoding or dot-segment
 * removal); a query or fragment on `path` is ignored.
 */
export function matchPath(patterns: readonly string[], path: string): boolean {
  if (typeof path !== "string") return false;
  let end = path.length;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  for (const pattern of patterns) {
    const last = pattern.length - 1;
    if (last >= 0 && pattern.charCodeAt(last) === 0x2a) {
      if (last <= end && path.startsWith(pattern.slice(0, last))) return true;
    } else if (pattern.length === end && path.startsWith(pattern)) {
      return true;
    }
  }
  return false;
}
