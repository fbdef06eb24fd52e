/**
 * Reads `nft -j list table inet switchyard`: a fingerprint of what should not change between applies
 * (chains, rules, fixed sets), and what status shows (set sizes, counters, ban elements).
 */
import { createHash } from "node:crypto";
import { parseCidr } from "@switchyard/cidr";

export interface SetInfo {
  name: string;
  type: string;
  flags: string[];
  elements: number;
}

export interface CounterInfo {
  name: string;
  packets: number;
  bytes: number;
}

export interface TableState {
  /** Same value for the same structure; counters, dynamic and ban set elements left out. */
  fingerprint: string;
  sets: SetInfo[];
  counters: CounterInfo[];
  /** Canonical network text of every element of the ban sets. */
  bans: Set<string>;
  rules: number;
}

type Json = Record<string, unknown>;

/** Sets whose elements change without an apply: bans (timeouts) and per-source meters. */
function isVolatileSet(set: Json): boolean {
  const flags = (set.flags as string[] | undefined) ?? [];
  return flags.includes("timeout") || flags.includes("dynamic") || /^ban_v[46]$/.test(String(set.name));
}

/** `{"prefix":{"addr":"10.0.0.0","len":8}}`, `"1.2.3.4"`, or either wrapped in `{"elem":{"val":…}}`. */
export function elementText(value: unknown): string | undefined {
  let v = value;
  if (v && typeof v === "object" && "elem" in v) v = (v as { elem: { val: unknown } }).elem.val;
  try {
    if (typeof v === "string") return parseCidr(v).text;
    if (v && typeof v === "object" && "prefix" in v) {
      const p = (v as { prefix: { addr: string; len: number } }).prefix;
      return parseCidr(`${p.addr}/${p.len}`).text;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object") {
    const out: Json = {};
    for (const key of Object.keys(value).sort()) {
      if (key === "handle") continue;
      out[key] = stable((value as Json)[key]);
    }
    return out;
  }
  return value;
}

export function readTableState(items: readonly unknown[]): TableState {
  const shape: unknown[] = [];
  const sets: SetInfo[] = [];
  const counters: CounterInfo[] = [];
  const bans = new Set<string>();
  let rules = 0;
  for (const item of items as Json[]) {
    if ("set" in item) {
      const set = item.set as Json;
      const elem = (set.elem as unknown[] | undefined) ?? [];
      sets.push({
        name: String(set.name),
        type: String(set.type),
        flags: (set.flags as string[] | undefined) ?? [],
        elements: elem.length,
      });
      if (/^ban_v[46]$/.test(String(set.name)))
        for (const e of elem) {
          const text = elementText(e);
          if (text) bans.add(text);
        }
      const { elem: _elements, ...rest } = set;
      shape.push({ set: isVolatileSet(set) ? rest : { ...rest, elem: elem.map(elementText).sort() } });
    } else if ("counter" in item) {
      const c = item.counter as Json;
      counters.push({ name: String(c.name), packets: Number(c.packets ?? 0), bytes: Number(c.bytes ?? 0) });
      shape.push({ counter: String(c.name) });
    } else if ("rule" in item) {
      rules++;
      shape.push(item);
    } else if ("chain" in item || "table" in item) {
      shape.push(item);
    }
  }
  const fingerprint = createHash("sha256")
    .update(JSON.stringify(stable(shape)))
    .digest("hex");
  return { fingerprint, sets, counters, bans, rules };
}
