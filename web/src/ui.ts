// The HTML around the canvas: info panel, legend, search, toolbar, loading and error overlays.
import type { ColorScale } from "./colorBy";
import { divergingGradient, viridisGradient } from "./colormap";
import type { BlockInfo, GroupInfo } from "./sceneView";

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** A value with 4 significant digits, as short as it goes. */
export function formatStat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const r = Number(v.toPrecision(4));
  const abs = Math.abs(r);
  return abs >= 1e4 || abs < 1e-3 ? r.toExponential() : String(r);
}

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
  const buttons = [`<button data-act="frame">Frame</button>`];
  if (b.collapsed) buttons.push(`<button data-act="expand">Expand</button>`);
  if (parentGroup) buttons.push(`<button data-act="collapse-parent">Collapse ${esc(parentGroup.split(".").pop())}</button>`);
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
  render(g.module, rows, [`<button data-act="frame">Frame</button>`, `<button data-act="collapse">Collapse</button>`],
    (act) => {
      if (act === "collapse") actions.collapse(g.module);
      if (act === "frame") actions.frame();
    });
}

function render(title: string, rows: [string, string][], buttons: string[], onAct: (act: string) => void): void {
  const panel = $("info");
  panel.innerHTML = `<h2>${esc(title || "(model)")}</h2><table>${rows
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td data-field="${esc(k)}">${esc(v)}</td></tr>`)
    .join("")}</table><div class="actions">${buttons.join("")}</div><div id="info-probe"></div>`;
  panel.dataset.path = title;
  panel.hidden = false;
  panel.querySelectorAll("button").forEach((btn) =>
    btn.addEventListener("click", () => onAct((btn as HTMLElement).dataset.act!)));
}

export function hidePanel(): void {
  const panel = $("info");
  panel.hidden = true;
  panel.dataset.path = "";
}

export function renderLegend(meta: Record<string, any>): void {
  const colors: Record<string, [number, number, number]> = meta?.legend?.colors ?? {};
  const sizing: Record<string, string> = meta?.layout?.sizing ?? {};
  const swatch = (rgb: number[]) => `rgb(${rgb.map((c) => Math.round(c * 255)).join(",")})`;
  const sizeHelp = [sizing.footprint, sizing.thickness, sizing.units].filter(Boolean).join("; ");
  $("legend-kinds").innerHTML = `<ul>${Object.entries(colors)
    .map(([name, rgb]) => `<li class="cat"><span class="sw" style="background:${swatch(rgb)}"></span>${esc(name)}</li>`)
    .join("")}<li><span class="sw line" style="background:#bfc7d9"></span>data edge</li>
    <li><span class="sw line" style="background:#f28c40"></span>skip edge</li></ul>
    <p title="${esc(sizeHelp)}">size: side = ${esc(sizing.side ?? "")} · ${esc(sizeHelp)}</p>`;
}

/** The colour bar of a quantity (replaces the category swatches), or none for null. */
export function renderColorScale(scale: ColorScale | null, unhealthy = 0): void {
  const el = $("legend-scale");
  $("legend").classList.toggle("quantity", scale !== null);
  const red = `<span class="health"><span class="sw" style="background:#ff2424"></span>red = NaN/Inf${unhealthy ? ` (${unhealthy})` : ""}</span>`;
  if (!scale) {
    el.innerHTML = unhealthy ? red : "";
    el.hidden = !unhealthy;
    return;
  }
  const range = scale.count
    ? `<span data-scale="min">${esc(formatStat(scale.min))}</span><span class="bar" style="background:${scale.diverging ? divergingGradient() : viridisGradient()}"></span><span data-scale="max">${esc(formatStat(scale.max))}</span>`
    : `<span class="none">no data at this step</span>`;
  el.innerHTML = `<span class="name">${esc(scale.label)}${scale.log ? " (log)" : ""}</span>${range}` +
    `<span class="nodata"><span class="sw" style="background:#3b3e46"></span>no data</span>${red}`;
  el.hidden = false;
}

export function setOverlay(kind: "loading" | "error" | null, text = ""): void {
  const el = $("overlay");
  el.className = kind ?? "";
  el.hidden = kind === null;
  el.textContent = text;
}

export function setStatus(text: string): void {
  $("status").textContent = text;
}
