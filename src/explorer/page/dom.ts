/** Small DOM helpers: elements are made with `h`, text always goes in as text (never as HTML). */

type Child = Node | string | number | null | undefined | false;
type Props = {
  class?: string;
  /** Event listeners: `on: { click: fn }`. */
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  /** `value` is set as the property (a select or textarea has no such attribute); anything else is an attribute (`true`: present). */
  [name: string]: unknown;
};

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  let value: unknown;
  for (const [name, given] of Object.entries(props)) {
    if (given === undefined || given === null || given === false) continue;
    if (name === "class") element.className = String(given);
    else if (name === "on") {
      for (const [type, listener] of Object.entries(given as Record<string, EventListener>)) element.addEventListener(type, listener);
    } else if (name === "value") value = given;
    else element.setAttribute(name, given === true ? "" : String(given));
  }
  append(element, children);
  // After the children: a select's value must name one of its options.
  if (value !== undefined) (element as unknown as { value: string }).value = String(value);
  return element;
}

function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
/** A unique element id, for label `for` and `aria-*` references. */
export const uid = (prefix: string) => `${prefix}-${++ids}`;

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const numberFormat = new Intl.NumberFormat();

/** A `<time>` showing the local date and time, with the ISO value in `datetime` and on hover. */
export function timeOf(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h("time", { datetime: iso, title: iso }, dateTime.format(date));
}

export const count = (n: number) => numberFormat.format(n);

/** "1 message", "3 messages". */
export const plural = (n: number, noun: string) => `${count(n)} ${noun}${n === 1 ? "" : "s"}`;

/** A score or contribution with 3 decimals (signed contributions keep their sign). */
export const decimal = (n: number, signed = false) => `${signed && n >= 0 ? "+" : ""}${n.toFixed(3)}`;

/** Text cut to `max` characters on a word boundary, for confirmations and labels. */
export function snippet(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), max - 20))}…`;
}

/** Announces a short text to screen readers (a polite live region that is not seen). */
export function announce(text: string): void {
  let region = document.getElementById("announcer");
  if (!region) {
    region = h("div", { id: "announcer", class: "visually-hidden", "aria-live": "polite", role: "status" });
    document.body.append(region);
  }
  region.textContent = text;
}
