// The overlay legend: the colour bar of the overlay under the pointer, else of the weight maps.
import type { OverlayInfo, Overlays } from "./overlays";
import { $, formatStat } from "./ui";

/** The colour bar of the overlay under the pointer (its units, range and method), or else of
 * the weight maps: diverging, symmetric per tensor (the selected layer's range). */
export function renderOverlayLegend(overlays: Overlays, selectedModule: string | null,
  hovered: OverlayInfo | null = null): void {
  const el = $("legend-overlay");
  const list = overlays.weightList;
  const mine = hovered ?? (overlays.showWeights ? list.find((o) => o.module === selectedModule && o.name === "weight")
    ?? list.find((o) => o.kind === "grid") ?? list[0] : undefined);
  el.hidden = !mine;
  if (!mine) return;
  const lg = mine.legend;
  const stops = lg.stops.map((c, i) => `${c} ${((i / (lg.stops.length - 1)) * 100).toFixed(0)}%`).join(", ");
  const title = hovered ? `${mine.module || "(model)"} ${mine.name}` : "weights &amp; biases";
  const note = hovered ? `${lg.units}${mine.meta.method ? ` · ${mine.meta.method}` : ""}`
    : `${mine.module || "(model)"} · white = 0 · range symmetric per tensor · step ${overlays.weightStep ?? "–"} · hover a cell for its value`;
  const scale = lg.colormap === "categorical" && lg.classes
    ? lg.classes.map((c, i) => `<span class="sw" style="background:${lg.stops[i]}"></span>${c}`).join(" ")
    : `<span data-scale="lo">${formatStat(lg.lo)}</span><span class="bar" style="background:linear-gradient(to right, ${stops})"></span>`
      + `<span data-scale="hi">${formatStat(lg.hi)}</span>`;
  el.innerHTML = `<span class="name">${title}</span>${scale}<span class="note">${note.replace(/</g, "&lt;")}</span>`;
}
