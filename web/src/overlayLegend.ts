// The overlay legend: the colour bar of the overlay under the pointer, else of the weight maps.
// Module names and class labels come from the run: text, never markup (dom.ts). Comparing two
// runs or models (nnviz3d compare), the weight maps are differences and their heading says B − A.
import { displayName, el, fill, nameEl, numEl, safeColor, swatch } from "./dom";
import type { OverlayInfo, Overlays } from "./overlays";
import { $ } from "./ui";
import { compareInfo } from "./compareInfo";

/** Class labels shown in a categorical legend; more are summed up as "+N more". */
const MAX_CLASSES = 40;

/** The colour bar of the overlay under the pointer (its units, range and method), or else of
 * the weight maps: diverging, symmetric per tensor (the selected layer's range). */
export function renderOverlayLegend(overlays: Overlays, selectedModule: string | null,
  hovered: OverlayInfo | null = null): void {
  const box = $("legend-overlay");
  const list = overlays.weightList;
  const mine = hovered ?? (overlays.showWeights ? list.find((o) => o.module === selectedModule && o.name === "weight")
    ?? list.find((o) => o.kind === "grid") ?? list[0] : undefined);
  box.hidden = !mine;
  if (!mine) return;
  const lg = mine.legend;
  const stops = (Array.isArray(lg.stops) ? lg.stops : []).map((c) => safeColor(c));
  const gradient = stops.length > 1
    ? `linear-gradient(to right, ${stops.map((c, i) => `${c} ${((i / (stops.length - 1)) * 100).toFixed(0)}%`).join(", ")})`
    : stops[0] ?? "#808080";
  // nnviz3d compare: the weight maps are B − A (element-wise), and the heading says so
  const diff = compareInfo.active && mine.name !== "embedding" ? "B − A: " : "";
  const title = hovered ? [diff, nameEl(mine.module || "(model)", 80), ` ${displayName(mine.name, 40)}`] : [`${diff}weights & biases`];
  const note = hovered ? `${displayName(lg.units, 80)}${mine.meta.method ? ` · ${displayName(mine.meta.method, 200)}` : ""}`
    : `${displayName(mine.module || "(model)", 80)} · white = 0 · range symmetric per tensor · step ${overlays.weightStep ?? "–"} · hover a cell for its value`;
  let scale: (Node | string)[];
  if (lg.colormap === "categorical" && Array.isArray(lg.classes)) {
    scale = lg.classes.slice(0, MAX_CLASSES).flatMap((c, i) => [swatch(stops[i]), displayName(c, 40), " "]);
    if (lg.classes.length > MAX_CLASSES) scale.push(`+${lg.classes.length - MAX_CLASSES} more`);
  } else {
    const bar = el("span", { class: "bar" });
    bar.style.background = gradient;
    scale = [el("span", { "data-scale": "lo" }, numEl(lg.lo)), bar, el("span", { "data-scale": "hi" }, numEl(lg.hi))];
  }
  fill(box, el("span", { class: "name" }, title), scale, el("span", { class: "note" }, note));
}
