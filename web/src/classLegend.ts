// The classes of the embedding clouds, named in the legend without hovering: one swatch per
// class colour with its label, and the clouds they colour. Class labels come from the run:
// text, clamped (dom.ts), never markup.
import { displayName, el, fill, nameEl, safeColor, swatch } from "./dom";
import type { OverlayInfo } from "./overlayFrame";
import { $ } from "./ui";

/** Classes named; more are summed up as "+N more". */
const MAX_CLASSES = 40;
/** Characters of a class label. */
const LABEL_CHARS = 24;

export interface ClassEntry { label: string; color: string }

/** The legend's entries for these embeddings: each class once, in the order first seen; an
 * unlabelled cloud (coloured by input index) adds none. */
export function classEntries(embeddings: Iterable<OverlayInfo>): ClassEntry[] {
  const seen = new Map<string, string>();
  for (const o of embeddings) {
    const lg = o.legend;
    if (lg.colormap !== "categorical" || !Array.isArray(lg.classes)) continue;
    lg.classes.forEach((c, i) => {
      const label = displayName(c, LABEL_CHARS);
      if (!seen.has(label)) seen.set(label, safeColor(lg.stops?.[i]));
    });
  }
  return [...seen.entries()].map(([label, color]) => ({ label, color }));
}

function box(): HTMLElement {
  const found = document.getElementById("legend-classes");
  if (found) return found;
  const made = el("div", { id: "legend-classes", hidden: true });
  $("legend").appendChild(made);
  return made;
}

/** Show the classes of the embedding clouds in the legend (hidden without clouds). */
export function renderClassLegend(embeddings: OverlayInfo[]): ClassEntry[] {
  const node = box();
  const entries = classEntries(embeddings);
  node.hidden = embeddings.length === 0;
  if (node.hidden) { fill(node); return entries; }
  const layers = embeddings.map((o) => displayName(o.module || "(model)", 40)).join(", ");
  const shown = entries.slice(0, MAX_CLASSES).map((e) =>
    el("span", { class: "cls", "data-class": e.label }, swatch(e.color), nameEl(e.label, LABEL_CHARS)));
  const more = entries.length > MAX_CLASSES ? el("span", { class: "note" }, `+${entries.length - MAX_CLASSES} more`) : null;
  const unlabelled = embeddings.some((o) => o.legend.colormap !== "categorical")
    ? el("span", { class: "note" }, "unlabelled points: colour = input index") : null;
  fill(node, el("span", { class: "name" }, entries.length ? "classes" : "embedding points"), shown, more, unlabelled,
    el("span", { class: "note" }, nameEl(`in the clouds of ${layers}`, 160)));
  return entries;
}
