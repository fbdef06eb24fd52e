/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): the top functions by self time, and the share of
 * time under each "area" (by file: our services and packages, undici, node internals, pino, prom-client,
 * GC). Works for the edge's profile too (services/edge, packages/*).
 *
 *   node bench/http/profile-summary.mjs <file.cpuprofile> [top=40]
 *   SKIP_S=4 node bench/http/profile-summary.mjs …   # leave out the first 4 s (startup, module loading)
 */
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
// SKIP_S: samples in the first seconds of the profile are left out (a process's startup).
const { env } = process;
const skipUs = Number(env.SKIP_S ?? 0) * 1e6;
let at = 0;
for (let i = 0; i < profile.samples.length; i++) {
  at += dt[i] ?? 0;
  if (at < skipUs) continue;
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self]
  .filter(([id]) => byId.get(id).callFrame.functionName === "(idle)")
  .reduce((a, [, t]) => a + t, 0);
const busy = total - idle;
const key = (n) => {
  const f = n.callFrame;
  const url = f.url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\//, "")
    .replace(/.*\/services\/http\/dist\//, "http/")
    .replace(/.*\/(services|packages)\/([^/]+)\/dist\//, "$2/");
  return `${f.functionName || "(anonymous)"} ${url}:${f.lineNumber + 1}`;
};
const area = (n) => {
  const u = n.callFrame.url;
  const name = n.callFrame.functionName;
  if (name.startsWith("(")) return name;
  const ours = /\/(services|packages)\/([^/]+)\//.exec(u);
  if (ours && !u.includes("node_modules")) return `${ours[1]}/${ours[2]}`;
  for (const m of ["undici", "pino", "prom-client", "sonic-boom", "@switchyard"])
    if (u.includes(`node_modules/${m}`)) return m;
  if (u.startsWith("node:")) return u.split("/").slice(0, 2).join("/");
  return u ? "other js" : "native/builtin";
};
const fns = new Map();
const areas = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  fns.set(key(n), (fns.get(key(n)) ?? 0) + t);
  areas.set(area(n), (areas.get(area(n)) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
console.log(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (shares below are of busy time)`,
);
console.log("\nby area (self time):");
for (const [a, t] of [...areas]
  .filter(([a]) => a !== "(idle)")
  .sort((x, y) => y[1] - x[1])
  .slice(0, 20))
  console.log(`  ${pct(t)}  ${a}`);
console.log(`\ntop ${top} functions (self time):`);
for (const [k, t] of [...fns]
  .filter(([k]) => !k.startsWith("(idle)"))
  .sort((x, y) => y[1] - x[1])
  .slice(0, top))
  console.log(`  ${pct(t)}  ${k}`);
// Inclusive time of our own functions (services/*, packages/*), to see which of them costs what in total.
const isOurs = (url) => /\/(services|packages)\/[^/]+\/dist\//.test(url) && !url.includes("node_modules");
const children = new Map(profile.nodes.map((n) => [n.id, n.children ?? []]));
const inclusive = new Map();
const walk = (id) => {
  let t = self.get(id) ?? 0;
  for (const c of children.get(id)) t += walk(c);
  const n = byId.get(id);
  if (isOurs(n.callFrame.url)) inclusive.set(key(n), (inclusive.get(key(n)) ?? 0) + t);
  return t;
};
walk(profile.nodes[0].id);
console.log("\nour functions (services/*, packages/*; inclusive; nested calls count in each caller):");
for (const [k, t] of [...inclusive].sort((x, y) => y[1] - x[1]).slice(0, 25))
  console.log(`  ${pct(t)}  ${k}`);
// Every sample charged once, to the innermost of our functions on its stack (node's and libraries'
// code counts in the caller of ours that called it); samples with none of ours on the stack (the
// event loop's own work, GC, node's stream machinery before it calls back) go by area.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const owner = new Map();
const ownerOf = (id) => {
  if (owner.has(id)) return owner.get(id);
  const n = byId.get(id);
  const o = isOurs(n.callFrame.url) ? key(n) : parent.has(id) ? ownerOf(parent.get(id)) : null;
  owner.set(id, o);
  return o;
};
const charged = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  if (n.callFrame.functionName === "(idle)") continue;
  const o = ownerOf(id) ?? `(none of ours) ${area(n)}`;
  charged.set(o, (charged.get(o) ?? 0) + t);
}
console.log("\nself time charged to the innermost of our functions on the stack:");
for (const [k, t] of [...charged].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`  ${pct(t)}  ${k}`);
