/** Plain-text tables and the human units yardctl prints (ages, durations, byte counts). */

export type Cell = string | number;

export interface Column {
  header: string;
  /** Default: right when every cell of the column is a number, else left. */
  align?: "left" | "right";
}

const GAP = "  ";

/** Renders rows under their headers, columns padded to the widest cell; no trailing spaces. */
export function renderTable(
  columns: ReadonlyArray<string | Column>,
  rows: ReadonlyArray<readonly Cell[]>,
): string {
  const cols = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...rows.map((r) => String(r[i] ?? "").length)));
  const rightAligned = cols.map(
    (c, i) =>
      c.align === "right" ||
      (c.align === undefined && rows.length > 0 && rows.every((r) => typeof r[i] === "number")),
  );
  const line = (cells: readonly Cell[]) =>
    cols
      .map((_, i) => {
        const text = String(cells[i] ?? "");
        const width = widths[i] ?? 0;
        return rightAligned[i] ? text.padStart(width) : text.padEnd(width);
      })
      .join(GAP)
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...rows.map(line)].join("\n");
}

const UNITS: ReadonlyArray<[suffix: string, ms: number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
];

/** `3h 12m`, `45s`, `2d 3h`: up to `parts` adjacent units from the largest, rounded down; zero parts left out. */
export function formatDuration(ms: number, parts = 2): string {
  const total = Math.max(0, Math.floor(ms));
  const first = UNITS.findIndex(([, size]) => total >= size);
  if (first === -1) return "0s";
  return UNITS.slice(first, first + parts)
    .map(([suffix, size], i) => {
      const upper = i === 0 ? Number.POSITIVE_INFINITY : (UNITS[first + i - 1]?.[1] ?? 0);
      const n = Math.floor((total % upper) / size);
      return n > 0 ? `${n}${suffix}` : "";
    })
    .filter((part) => part !== "")
    .join(" ");
}

/** `3m ago` for a time in milliseconds since the epoch; `never` for 0, `just now` within a second. */
export function formatAge(epochMs: number, nowMs: number): string {
  if (epochMs <= 0) return "never";
  const ago = nowMs - epochMs;
  if (ago < 1000) return "just now";
  return `${formatDuration(ago, 1)} ago`;
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/** `512 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = "B";
  for (const next of BYTE_UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** A list as one cell: `a,b,c`, or `-` when empty. */
export function formatList(items: ReadonlyArray<string | number>): string {
  return items.length > 0 ? items.join(",") : "-";
}
