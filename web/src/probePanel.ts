// The info panel's training section: per probe kind the 8 statistics of the selected block at
// the shown step, the weight update ratio, and a 64-bin histogram.
// nnviz3d compare: the statistics are differences, B − A, per statistic. Every heading says so
// and every statistic is named "Δ min", "Δ max"... (the difference of two minima can exceed the
// difference of two maxima: they are not a range); the histogram is B's, and says so.
import { type KindData, N_STATS, type ProbeKind, type ProbeState } from "./probeState";
import { el, fill, numEl } from "./dom";
import { compareInfo } from "./compareInfo";
import { HIST_BINS, STAT_NAMES } from "./protocol.gen";

const TITLES: Record<ProbeKind, string> = { weight: "weights", grad: "gradients", act: "activations" };
const BAR_COLORS: Record<ProbeKind, string> = { weight: "#6fa8ff", grad: "#f2a65a", act: "#7bd389" };
const COUNTS = new Set(["nan", "inf"]);
const HIST_W = 316, HIST_H = 44;

/** Fill ``box`` with the probe data of ``module`` (empty when there is none). */
export function renderProbePanel(box: HTMLElement, module: string | null, probe: ProbeState): void {
  const sections: HTMLElement[] = [];
  if (module !== null) {
    for (const [kind, data] of probe.kinds) {
      const r = data.index.get(module);
      if (r === undefined) continue;
      sections.push(section(kind, data, r, probe.isUnhealthy(module)));
    }
  }
  if (!sections.length) { fill(box); return; }
  const bad = probe.isUnhealthy(module ?? "");
  // two models have no steps (tolerance null): only two runs say which step is shown
  const title = !compareInfo.active ? `training · step ${probe.step ?? "–"}`
    : compareInfo.tolerance === null ? "B − A (two models' weights)" : `B − A · step ${probe.step ?? "–"}`;
  fill(box, el("h3", { class: "probe-title" }, title,
    bad ? [" ", el("span", { class: "bad nonfinite" }, "NaN/Inf")] : null), sections);
}

function section(kind: ProbeKind, data: KindData, r: number, unhealthy: boolean): HTMLElement {
  const s = data.stats;
  const diff = compareInfo.active;
  const cells = STAT_NAMES.map((name, c) => {
    const v = s[r * N_STATS + c];
    const count = COUNTS.has(name);
    const td = el("td", { "data-stat": `${kind}.${name}`, class: count && v > 0 ? "bad" : null },
      count && Number.isFinite(v) ? String(Math.round(v)) : numEl(v));
    const label = name === "zero_frac" ? "zero frac" : name;
    return [el("th", null, diff ? `Δ ${label}` : label), td];
  });
  const rows: HTMLElement[] = [];
  for (let i = 0; i < cells.length; i += 2) rows.push(el("tr", null, cells[i], cells[i + 1] ?? null));
  if (kind === "weight" && data.update && !diff) {
    // NaN at the first capture (nothing to compare with) is "–"; NaN after NaN weights is red
    const u = data.update[r];
    rows.push(el("tr", null, el("th", null, "update"),
      el("td", { "data-stat": "weight.update", colspan: 3 }, Number.isNaN(u) && !unhealthy ? "–" : numEl(u))));
  }
  const parts: (Node | null)[] = [];
  if (data.hist) {
    const canvas = el("canvas", { "data-hist": kind, width: HIST_W * 2, height: HIST_H * 2 });
    drawHistogram(canvas, data.hist, r, BAR_COLORS[kind]);
    parts.push(canvas);
    if (data.range) parts.push(el("div", { class: "hist-range" }, numEl(data.range[2 * r]), numEl(data.range[2 * r + 1])));
    if (diff) parts.push(el("div", { class: "hist-note" }, "histogram and its range: B's values, not B − A"));
  }
  const steps = !diff ? `step ${data.step}` : compareInfo.tolerance === null ? "" : compareInfo.describe(kind, data.step) || `step ${data.step}`;
  return el("section", { class: "probe", "data-kind": kind },
    el("h4", null, diff ? `${TITLES[kind]} · B − A` : TITLES[kind], el("span", null, steps)),
    el("table", { class: "stats" }, rows), parts);
}

function drawHistogram(canvas: HTMLCanvasElement, hist: Uint32Array, r: number, color: string): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#0d1017";
  ctx.fillRect(0, 0, w, h);
  let max = 0;
  for (let b = 0; b < HIST_BINS; b++) max = Math.max(max, hist[r * HIST_BINS + b]);
  if (max === 0) return;
  ctx.fillStyle = color;
  const bw = w / HIST_BINS;
  for (let b = 0; b < HIST_BINS; b++) {
    const c = hist[r * HIST_BINS + b];
    if (!c) continue;
    const bh = Math.max(1, (c / max) * (h - 2));
    ctx.fillRect(b * bw + 0.5, h - bh, Math.max(1, bw - 1), bh);
  }
}
