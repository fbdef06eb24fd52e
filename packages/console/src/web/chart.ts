/** Connections over the last minutes as a plain SVG line chart (no library, no inline style). */
import type { edgeV1 } from "@switchyard/proto";

const SVG = "http://www.w3.org/2000/svg";
const KEEP_MS = 5 * 60_000;
const WIDTH = 600;
const HEIGHT = 120;

interface Sample {
  at: number;
  active: number;
  /** New connections per second since the previous sample. */
  rate: number;
  total: number;
}

const samples: Sample[] = [];

export function addStats(stats: edgeV1.GetStatsResponse, at = Date.now()): void {
  const active = stats.routes.reduce((sum, r) => sum + Number(r.active), 0);
  const total = stats.routes.reduce((sum, r) => sum + Number(r.total), 0);
  const previous = samples.at(-1);
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rate = previous && seconds > 0 ? Math.max(0, total - previous.total) / seconds : 0;
  samples.push({ at, active, rate, total });
  while (samples.length > 0 && (samples[0]?.at ?? at) < at - KEEP_MS) samples.shift();
}

function el(name: string, attrs: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  return element;
}

export function renderChart(now = Date.now()): SVGElement {
  const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT + 20}`, class: "chart", role: "img" });
  const max = Math.max(1, ...samples.map((s) => Math.max(s.active, s.rate)));
  const x = (at: number) => (WIDTH * (at - (now - KEEP_MS))) / KEEP_MS;
  const y = (value: number) => HEIGHT - (HEIGHT - 10) * (value / max);
  svg.appendChild(el("rect", { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: "chart-bg" }));
  for (const [key, css] of [
    ["active", "line-active"],
    ["rate", "line-rate"],
  ] as const) {
    const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s[key]).toFixed(1)}`).join(" ");
    svg.appendChild(el("polyline", { points, class: css, fill: "none" }));
  }
  const last = samples.at(-1);
  const label = el("text", { x: 4, y: HEIGHT + 15, class: "chart-label" });
  label.textContent = `last 5 min — active connections: ${last?.active ?? 0} (blue), new per second: ${(last?.rate ?? 0).toFixed(1)} (orange), scale 0–${max.toFixed(0)}`;
  svg.appendChild(label);
  return svg;
}
