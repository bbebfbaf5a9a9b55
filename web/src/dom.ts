// Building the page from data. Every string that comes from a model, a file or a recording
// (module paths, kinds, metric names, alarm messages, class labels, bookmark names) is text,
// never HTML: elements are made with ``el`` and filled with text nodes, attributes are set one
// by one, and no module of the viewer assigns innerHTML. Names are shown clamped and isolated
// (a right-to-left override in a name cannot reorder the text around it); numbers that are NaN
// or infinite are shown as "NaN", "Inf" or "−Inf" in red.

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Characters of a name shown in the page; longer names end in "…" (the title has more). */
export const MAX_NAME = 200;
/** Characters of a name kept in a title (hover) attribute. */
const MAX_TITLE = 2000;

/** An element with attributes and children (strings become text nodes, never markup).
 * ``class`` sets the class list; ``style`` is not accepted (set properties on .style), nor are
 * event-handler attributes (``on...``): listeners are added in code. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null,
  ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(name) || name.toLowerCase() === "style") throw new Error(`el: attribute ${name} is not allowed`);
    node.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Append children (text for strings and numbers) to ``node``. */
export function append(node: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replace everything in ``node`` with ``children``. */
export function fill(node: Element, ...children: (Child | Child[])[]): void {
  node.replaceChildren();
  append(node, children);
}

/** Control characters and bidirectional formatting characters (which could make a name read
 * backwards or hide part of it) are shown as U+FFFD. */
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A name as shown: a string, control and bidi characters visible as "\ufffd", at most ``max``
 * characters (then "…"). */
export function displayName(value: unknown, max = MAX_NAME): string {
  const s = String(value ?? "").replace(CONTROLS, "\ufffd");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A name in the page: an isolated run of text (``<bdi>``), clamped; the title holds more of
 * it when it was clamped. */
export function nameEl(value: unknown, max = MAX_NAME): HTMLElement {
  const full = String(value ?? "");
  const shown = displayName(full, max);
  const node = el("bdi", { class: "name-text" }, shown);
  if (shown.length < full.length || shown !== full) node.title = displayName(full, MAX_TITLE);
  return node;
}

/** A value with 4 significant digits, as short as it goes; "NaN", "Inf", "−Inf" when it is not
 * finite. */
export function formatStat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Inf" : "−Inf";
  if (v === 0) return "0";
  const r = Number(v.toPrecision(4));
  const abs = Math.abs(r);
  return abs >= 1e4 || abs < 1e-3 ? r.toExponential() : String(r);
}

/** A number in the page: formatted, in red (class ``nonfinite``) when NaN or infinite. */
export function numEl(v: number, format: (v: number) => string = formatStat): HTMLElement {
  const bad = typeof v !== "number" || !Number.isFinite(v);
  return el("span", { class: bad ? "nonfinite" : null }, bad ? formatStat(Number(v)) : format(v));
}

/** ``#rrggbb`` colours pass; anything else (a value from a file) becomes ``fallback``. */
export function safeColor(c: unknown, fallback = "#808080"): string {
  return typeof c === "string" && /^#[0-9a-fA-F]{6}$/.test(c) ? c : fallback;
}

/** A colour swatch (``span.sw``) of a checked colour. */
export function swatch(color: unknown, extraClass = ""): HTMLElement {
  const s = el("span", { class: `sw${extraClass ? ` ${extraClass}` : ""}` });
  s.style.background = safeColor(color);
  return s;
}

/** A file name made of safe characters (downloads). */
export function safeFileName(name: string, fallback = "scene"): string {
  return (displayName(name || fallback, 100).replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_")) || fallback;
}
