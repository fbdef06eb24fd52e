/** DOM building without innerHTML: every value goes in as text, so nothing from an API runs as markup. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** A table: headers, then rows of cells; `rowAttrs` tags rows for lookups (data-*). */
export function table(
  headers: string[],
  rows: { cells: Child[]; attrs?: Attrs }[],
  empty: string,
): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((text) => h("th", {}, text)))),
    h(
      "tbody",
      {},
      ...rows.map((row) =>
        h(
          "tr",
          row.attrs ?? {},
          ...row.cells.map((cell) =>
            cell instanceof HTMLElement && cell.tagName === "TD" ? cell : h("td", {}, cell),
          ),
        ),
      ),
    ),
  );
}

/** `3m 20s`, `2d 4h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** `in 5m 0s` or `12s ago`; `-` for 0. */
export function when(ms: number, now = Date.now()): string {
  if (!ms) return "-";
  return ms >= now ? `in ${duration(ms - now)}` : `${duration(now - ms)} ago`;
}

/** `2026-12-04 16:13:05Z`. */
export function stamp(ms: number): string {
  if (!ms) return "-";
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}
