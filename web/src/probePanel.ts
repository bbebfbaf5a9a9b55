// The info panel's training section: per probe kind the 8 statistics of the selected block at
// the shown step, the weight update ratio, and a 64-bin histogram.
import { type KindData, N_STATS, type ProbeKind, type ProbeState } from "./probeState";
import { HIST_BINS, STAT_NAMES } from "./protocol.gen";
import { formatStat } from "./ui";

const TITLES: Record<ProbeKind, string> = { weight: "weights", grad: "gradients", act: "activations" };
const BAR_COLORS: Record<ProbeKind, string> = { weight: "#6fa8ff", grad: "#f2a65a", act: "#7bd389" };
const COUNTS = new Set(["nan", "inf"]);
const HIST_W = 316, HIST_H = 44;

/** Fill ``el`` with the probe data of ``module`` (empty when there is none). */
export function renderProbePanel(el: HTMLElement, module: string | null, probe: ProbeState): void {
  const parts: string[] = [];
  const draws: [number, ProbeKind, KindData, number][] = [];
  if (module !== null) {
    for (const [kind, data] of probe.kinds) {
      const r = data.index.get(module);
      if (r === undefined) continue;
      parts.push(section(kind, data, r, draws.length));
      if (data.hist) draws.push([draws.length, kind, data, r]);
    }
  }
  el.innerHTML = parts.length
    ? `<h3 class="probe-title">training · step ${probe.step ?? "–"}${probe.isUnhealthy(module ?? "") ? ` <span class="bad">NaN/Inf</span>` : ""}</h3>${parts.join("")}`
    : "";
  for (const [k, kind, data, r] of draws) {
    const canvas = el.querySelector(`canvas[data-hist='${k}']`) as HTMLCanvasElement | null;
    if (canvas) drawHistogram(canvas, data.hist!, r, BAR_COLORS[kind]);
  }
}

function section(kind: ProbeKind, data: KindData, r: number, histIndex: number): string {
  const s = data.stats;
  const cells = STAT_NAMES.map((name, c) => {
    const v = s[r * N_STATS + c];
    const text = COUNTS.has(name) ? (Number.isFinite(v) ? String(Math.round(v)) : formatStat(v)) : formatStat(v);
    const bad = COUNTS.has(name) && v > 0 ? " class=\"bad\"" : "";
    return `<th>${name === "zero_frac" ? "zero frac" : name}</th><td data-stat="${kind}.${name}"${bad}>${text}</td>`;
  });
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += 2) rows.push(`<tr>${cells[i]}${cells[i + 1] ?? ""}</tr>`);
  if (kind === "weight" && data.update) {
    rows.push(`<tr><th>update</th><td data-stat="weight.update" colspan="3">${formatStat(data.update[r])}</td></tr>`);
  }
  const hist = data.hist
    ? `<canvas data-hist="${histIndex}" width="${HIST_W * 2}" height="${HIST_H * 2}"></canvas>` +
      (data.range ? `<div class="hist-range"><span>${formatStat(data.range[2 * r])}</span><span>${formatStat(data.range[2 * r + 1])}</span></div>` : "")
    : "";
  return `<section class="probe" data-kind="${kind}"><h4>${TITLES[kind]}<span>step ${data.step}</span></h4>` +
    `<table class="stats">${rows.join("")}</table>${hist}</section>`;
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
