// The HTML around the canvas: info panel, legend, search, toolbar, loading and error overlays.
// Built from elements and text (dom.ts): names from a model or a file are never markup.
import { type ColorScale, NO_DATA_CSS } from "./colorBy";
import { divergingGradient, middleCss, viridisGradient } from "./colormap";
import { displayName, el, fill, formatStat, nameEl, numEl } from "./dom";
import type { BlockInfo, GroupInfo } from "./sceneView";

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return formatStat(n);
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export { formatStat };

function shapes(list: (number | string)[][] | undefined): string {
  if (!list || !list.length) return "–";
  return list.map((s) => (s ? `[${s.join(", ")}]` : "?")).join(", ");
}

function trainable(total: number, trainable: number): string {
  if (total === 0) return "– (no parameters)";
  if (trainable === total) return "all";
  if (trainable === 0) return "none (frozen)";
  return `${trainable.toLocaleString("en")} of ${total.toLocaleString("en")}`;
}

export interface PanelActions {
  expand(path: string): void;
  collapse(path: string): void;
  frame(): void;
}

/** ``partner``: the matched layer of B when comparing two runs or models (nnviz3d compare). */
export function showBlockPanel(b: BlockInfo, parentGroup: string | null, actions: PanelActions,
  partner?: string): void {
  const rows: [string, string][] = [
    ["path", b.module || "(model)"],
    ["kind", b.kind],
    ["role", b.role + (b.collapsed ? " (collapsed group)" : "")],
    ["input shapes", shapes(b.input_shapes)],
    ["output shapes", shapes(b.output_shapes)],
    ["dtype", (b.dtypes ?? []).join(", ") || "–"],
    [b.collapsed ? "total params" : "own params", `${formatCount(b.params)} (${b.params.toLocaleString("en")})`],
    ["trainable", trainable(b.params, Number(b.trainable_params ?? 0))],
  ];
  if (b.shared_params && Object.keys(b.shared_params).length) {
    rows.push(["tied", Object.entries(b.shared_params).map(([k, v]) => `${k} = ${v}`).join("; ")]);
  }
  if (b.repeat_group) rows.push(["repeat", b.repeat_group]);
  if (partner !== undefined) rows.push(["layer in B", partner || "(model)"]);
  const buttons: [string, string][] = [["frame", "Frame"]];
  if (b.collapsed) buttons.push(["expand", "Expand"]);
  if (parentGroup) buttons.push(["collapse-parent", `Collapse ${displayName(parentGroup.split(".").pop(), 40)}`]);
  render(b.module, rows, buttons, (act) => {
    if (act === "expand") actions.expand(b.module);
    if (act === "collapse-parent" && parentGroup) actions.collapse(parentGroup);
    if (act === "frame") actions.frame();
  });
}

export function showGroupPanel(g: GroupInfo, actions: PanelActions): void {
  const rows: [string, string][] = [
    ["path", g.module],
    ["kind", g.kind],
    ["role", "group (expanded)"],
    ["total params", `${formatCount(g.total_params)} (${g.total_params.toLocaleString("en")})`],
    ["depth", String(g.depth)],
  ];
  if (g.repeat_group) rows.push(["repeat", String(g.repeat_group)]);
  render(g.module, rows, [["frame", "Frame"], ["collapse", "Collapse"]],
    (act) => {
      if (act === "collapse") actions.collapse(g.module);
      if (act === "frame") actions.frame();
    });
}

/** ``buttons``: [action, label]; a click calls ``onAct(action)``. */
function render(title: string, rows: [string, string][], buttons: [string, string][], onAct: (act: string) => void): void {
  const panel = $("info");
  fill(panel,
    el("h2", null, nameEl(title || "(model)")),
    el("table", null, rows.map(([k, v]) => el("tr", null, el("th", null, k), el("td", { "data-field": k }, nameEl(v))))),
    el("div", { class: "actions" }, buttons.map(([act, label]) => {
      const btn = el("button", { "data-act": act }, label);
      btn.addEventListener("click", () => onAct(act));
      return btn;
    })),
    el("div", { id: "info-probe" }));
  panel.dataset.path = title;
  panel.hidden = false;
}

export function hidePanel(): void {
  const panel = $("info");
  panel.hidden = true;
  panel.dataset.path = "";
}

export function renderLegend(meta: Record<string, any>): void {
  const colors: Record<string, [number, number, number]> = meta?.legend?.colors ?? {};
  const sizing: Record<string, string> = meta?.layout?.sizing ?? {};
  const sizeHelp = [sizing.footprint, sizing.thickness, sizing.units].filter(Boolean).map(String).join("; ");
  const sw = (css: string, line = false) => {
    const s = el("span", { class: line ? "sw line" : "sw" });
    s.style.background = css;
    return s;
  };
  const rgbCss = (rgb: unknown) => {
    const c = Array.isArray(rgb) ? rgb.slice(0, 3).map((x) => Math.round(Math.min(1, Math.max(0, Number(x) || 0)) * 255)) : [128, 128, 128];
    return `rgb(${c.join(",")})`;
  };
  fill($("legend-kinds"),
    el("ul", null,
      Object.entries(colors).map(([name, rgb]) => el("li", { class: "cat" }, sw(rgbCss(rgb)), nameEl(name, 60))),
      el("li", null, sw("#bfc7d9", true), "data edge"),
      el("li", null, sw("#f28c40", true), "skip edge")),
    el("p", { title: displayName(sizeHelp, 1000) }, `size: side = ${displayName(sizing.side ?? "", 200)} · ${displayName(sizeHelp, 400)}`));
}

/** The colour bar of a quantity (replaces the category swatches), or none for null. */
export function renderColorScale(scale: ColorScale | null, unhealthy = 0): void {
  const box = $("legend-scale");
  $("legend").classList.toggle("quantity", scale !== null);
  const sw = (css: string) => {
    const s = el("span", { class: "sw" });
    s.style.background = css;
    return s;
  };
  const red = () => el("span", { class: "health", "data-entry": "invalid" }, sw("#ff2424"),
    `red = NaN/Inf${unhealthy ? ` (${unhealthy})` : ""}`);
  if (!scale) {
    fill(box, unhealthy ? red() : null);
    box.hidden = !unhealthy;
    return;
  }
  let range: Node[];
  if (scale.count && scale.collapsed) {
    // one value (one block with data, or all equal): one colour, no bar that pretends a range
    const many = scale.count === 1 ? "1 block with data" : `${scale.count} blocks`;
    range = [el("span", { class: "all", "data-entry": "all", "data-scale": "all" }, sw(middleCss(!!scale.diverging)),
      "all = ", numEl(scale.min), el("span", { class: "none" }, ` (${many})`))];
  } else if (scale.count) {
    const bar = el("span", { class: "bar" });
    bar.style.background = scale.diverging ? divergingGradient() : viridisGradient();
    range = [el("span", { "data-scale": "min", "data-entry": "min" }, numEl(scale.min)), bar,
      el("span", { "data-scale": "max", "data-entry": "max" }, numEl(scale.max))];
  } else range = [el("span", { class: "none", "data-entry": "empty" }, "no data at this step")];
  fill(box, el("span", { class: "name" }, `${scale.label}${scale.log ? " (log)" : ""}`), range,
    el("span", { class: "nodata", "data-entry": "nodata" }, sw(NO_DATA_CSS), "no data"), red(),
    scale.note ? el("span", { class: "note", "data-entry": "note" }, displayName(scale.note, 300)) : null);
  box.hidden = false;
}

/** The colour scale as shown: its entries ("min", "max", "all", "nodata", "invalid", "empty")
 * with their text and swatch colour, or null while none is shown. */
export function colorScaleEntries(): { entry: string; text: string; color: string | null }[] | null {
  const box = $("legend-scale");
  if (box.hidden) return null;
  return [...box.querySelectorAll<HTMLElement>("[data-entry]")].map((e) => {
    const s = e.querySelector<HTMLElement>(".sw");
    return { entry: e.dataset.entry ?? "", text: (e.textContent ?? "").trim(), color: s ? getComputedStyle(s).backgroundColor : null };
  });
}

export function setOverlay(kind: "loading" | "error" | null, text = ""): void {
  const el = $("overlay");
  el.className = kind ?? "";
  el.hidden = kind === null;
  el.textContent = text;
}

export function setStatus(text: string): void {
  $("status").textContent = displayName(text, 400);
}
