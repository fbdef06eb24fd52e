/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, as a
 * share of the samples in which the process was not idle. Usage: node profile-top.mjs DIR_OR_FILE [N].
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

function newestProfile(dirOrFile) {
  if (statSync(dirOrFile).isFile()) return dirOrFile;
  const files = readdirSync(dirOrFile)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(dirOrFile, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dirOrFile}`);
  return files[0];
}

function shortUrl(url) {
  if (!url) return "";
  const m = /\/(node_modules|packages|services)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url.startsWith("node:") ? url : basename(url);
}

/**
 * `windows`: optional [startUs, endUs] ranges of the monotonic clock (process.hrtime in µs, the clock
 * V8's profiler stamps samples with); only samples inside them count.
 */
export function topFrames(dirOrFile, n = 25, windows = []) {
  const file = newestProfile(dirOrFile);
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (windows.length > 0 && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const id = profile.samples[i];
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  const self = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, count] of hits) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === "(idle)") {
      idle += count;
      continue;
    }
    total += count;
    const key = `${callFrame.functionName || "(anonymous)"} ${shortUrl(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + count);
  }
  const frames = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, count]) => ({ frame, selfPct: +((100 * count) / total).toFixed(1), samples: count }));
  const seconds =
    windows.length > 0
      ? windows.reduce((sum, [a, b]) => sum + (b - a), 0) / 1e6
      : (profile.endTime - profile.startTime) / 1e6;
  const busyPct = (100 * total) / (total + idle);
  const text = [
    `Top ${n} frames by self time (${basename(file)}; ${seconds.toFixed(1)} s of load profiled, busy in ${busyPct.toFixed(1)}% of samples):`,
    "",
    "| self % of busy | frame |",
    "|---:|---|",
    ...frames.map((f) => `| ${f.selfPct} | \`${f.frame}\` |`),
  ].join("\n");
  return { file, frames, busyPct: +busyPct.toFixed(1), seconds, text };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(topFrames(process.argv[2], Number(process.argv[3] ?? 25)).text);
}
