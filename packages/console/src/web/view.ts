/** What a view is: an optional form that stays put, and a live part drawn again from each poll. */
export interface ViewContext {
  /** Asks for confirmation, runs the action, shows its result or error, and refreshes. */
  act(question: string, action: string, body?: Record<string, unknown>): void;
}

export interface View<T = unknown> {
  /** The name of the API view it reads (GET api/views/<name>). */
  name: string;
  title: string;
  controls?(ctx: ViewContext): HTMLElement;
  render(data: T, ctx: ViewContext): Node;
}

export function button(
  label: string,
  onClick: () => void,
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  element.addEventListener("click", onClick);
  return element;
}

/** A small form: labelled inputs by id, and a submit button that hands their values over. */
export function form(
  id: string,
  fields: { name: string; label: string; value?: string; placeholder?: string }[],
  submit: string,
  onSubmit: (values: Record<string, string>) => void,
): HTMLElement {
  const element = document.createElement("form");
  element.id = id;
  for (const field of fields) {
    const label = document.createElement("label");
    label.textContent = field.label;
    const input = document.createElement("input");
    input.id = `${id}-${field.name}`;
    input.name = field.name;
    input.value = field.value ?? "";
    input.placeholder = field.placeholder ?? "";
    label.appendChild(input);
    element.appendChild(label);
  }
  const go = document.createElement("button");
  go.type = "submit";
  go.id = `${id}-submit`;
  go.textContent = submit;
  element.appendChild(go);
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const values: Record<string, string> = {};
    for (const field of fields)
      values[field.name] = (element.elements.namedItem(field.name) as HTMLInputElement).value;
    onSubmit(values);
  });
  return element;
}
