/** Connections over the last minutes as a plain SVG line chart (no library, no inline style). */
const SVG = "http://www.w3.org/2000/svg";
const KEEP_MS = 5 * 60_000;
const WIDTH = 600;
const HEIGHT = 120;

/** As the console server samples the edge's stats (server/stats-history.ts). */
export interface StatsSample {
  at: number;
  active: number;
  total: number;
}

function el(name: string, attrs: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  return element;
}

export function renderChart(samples: StatsSample[], now = Date.now()): SVGElement {
  // New connections per second between one sample and the next.
  const rates = samples.map((s, i) => {
    const previous = samples[i - 1];
    if (previous === undefined || s.at <= previous.at) return 0;
    return Math.max(0, s.total - previous.total) / ((s.at - previous.at) / 1000);
  });
  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT + 20}`,
    class: "chart",
    role: "img",
    "data-samples": samples.length,
  });
  const max = Math.max(1, ...samples.map((s) => s.active), ...rates);
  const x = (at: number) => (WIDTH * (at - (now - KEEP_MS))) / KEEP_MS;
  const y = (value: number) => HEIGHT - (HEIGHT - 10) * (value / max);
  svg.appendChild(el("rect", { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: "chart-bg" }));
  const line = (values: number[], css: string) =>
    el("polyline", {
      points: samples.map((s, i) => `${x(s.at).toFixed(1)},${y(values[i] ?? 0).toFixed(1)}`).join(" "),
      class: css,
      fill: "none",
    });
  svg.appendChild(line(rates, "line-rate"));
  svg.appendChild(
    line(
      samples.map((s) => s.active),
      "line-active",
    ),
  );
  const label = el("text", { x: 4, y: HEIGHT + 15, class: "chart-label" });
  label.textContent =
    `last 5 min — open connections: ${samples.at(-1)?.active ?? 0} (blue), ` +
    `new per second: ${(rates.at(-1) ?? 0).toFixed(1)} (orange), scale 0–${Math.ceil(max)}`;
  svg.appendChild(label);
  return svg;
}
