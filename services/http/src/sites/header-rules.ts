import type { OutgoingHttpHeaders } from "node:http";

/** A site's header rules for one direction, names lower-cased. */
export interface HeaderRules {
  set: Array<[name: string, value: string]>;
  remove: string[];
}

export function compileHeaderRules(rules: { set: Record<string, string>; remove: string[] }): HeaderRules {
  return {
    set: Object.entries(rules.set).map(([name, value]) => [name.toLowerCase(), value]),
    remove: rules.remove.map((name) => name.toLowerCase()),
  };
}

/** Removes, then sets, on headers whose names are lower case. */
export function applyHeaderRules(headers: OutgoingHttpHeaders, rules: HeaderRules): void {
  for (const name of rules.remove) delete headers[name];
  for (const [name, value] of rules.set) headers[name] = value;
}
