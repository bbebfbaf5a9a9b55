// What a hovered overlay cell, bar, ridge bin or point holds: its exact value (as the server
// sent it) and a sentence saying what it stands for.
import { displayName, formatStat } from "./dom";
import type { OverlayHit, OverlayInfo } from "./overlayFrame";

/** The value of one cell/bar/bin/point and a sentence saying what it stands for. */
export function describeValue(o: OverlayInfo, index: number[]): OverlayHit {
  const m = o.meta;
  const label = `${displayName(o.module || "(model)", 120)} ${displayName(o.name, 40)}`;
  if (o.kind === "surface") {
    const [r, c] = index;
    const v = o.arrays.values[r * o.shape[1] + c];
    return { overlay: o, index, value: v, text: `loss ${formatStat(v)} at alpha ${formatStat(o.arrays.alphas[c])}, beta ${formatStat(o.arrays.betas[r])}${r === (o.shape[0] - 1) / 2 && c === (o.shape[1] - 1) / 2 ? " (current weights)" : ""}` };
  }
  if (o.kind === "slabs") {
    const [k, r, c] = index;
    const v = o.arrays.values[(k * o.shape[1] + r) * o.shape[2] + c];
    const where = o.meta.axes ? `${o.meta.axes[0]} ${k}, ${o.meta.axes[1]} ${r}, ${o.meta.axes[2]} ${c}` : `channel ${k} [${r}, ${c}]`;
    return { overlay: o, index, value: v, text: `${label} · ${where} = ${formatStat(v)}` };
  }
  if (o.kind === "grid" && o.name !== "weight" && o.name !== "bias") {
    const [r, c] = index;
    const v = o.arrays.values[r * o.shape[1] + c];
    return { overlay: o, index, value: v, text: `${label} [${r}, ${c}] = ${formatStat(v)}${Number.isNaN(v) ? " (padding)" : ""}` };
  }
  if (o.kind === "grid") {
    const [r, c] = index;
    const v = o.arrays.values[r * o.shape[1] + c];
    let where = `[${r}, ${c}]`;
    if (m.layout === "tiles") {
      const [kh, kw] = m.kernel;
      if (r % (kh + 1) === kh || c % (kw + 1) === kw) return { overlay: o, index, value: NaN, text: `${label}: gap between kernels` };
      where = `[out ${Math.floor(r / (kh + 1))}, in ${Math.floor(c / (kw + 1))}, ${r % (kh + 1)}, ${c % (kw + 1)}]`;
    } else if (!String(m.method).startsWith("none")) {
      const fr = m.full_shape[0], fc = m.full_shape.slice(1).reduce((x: number, y: number) => x * y, 1);
      where = `rows ${Math.floor((r * fr) / o.shape[0])}–${Math.ceil(((r + 1) * fr) / o.shape[0]) - 1}, cols ${Math.floor((c * fc) / o.shape[1])}–${Math.ceil(((c + 1) * fc) / o.shape[1]) - 1} (mean)`;
    }
    return { overlay: o, index, value: v, text: `${label}${where} = ${formatStat(v)} (${m.dtype})` };
  }
  if (o.kind === "bars") {
    const v = o.arrays.values[index[0]];
    const pooled = String(m.method).startsWith("none") ? "" : " (mean of a run)";
    return { overlay: o, index, value: v, text: `${label}[${index[0]}] = ${formatStat(v)}${pooled} (${m.dtype})` };
  }
  if (o.kind === "ridge") {
    const [t, b] = index;
    const bins = o.shape[1];
    const v = o.arrays.values[t * bins + b];
    const e = o.arrays.edges;
    const step = o.arrays.steps[t];
    return { overlay: o, index, value: v, text: `${label} · step ${step} · [${formatStat(e[b])}, ${formatStat(e[b + 1])}) · ${formatStat(v)} values` };
  }
  const v = o.arrays.values[index[0]];
  if (o.name === "embedding") {
    const what = o.meta.labelled ? `label ${v}` : "";
    return { overlay: o, index, value: v, text: `${displayName(o.module, 120)} embedding (${displayName(o.meta.method, 20)}, step ${o.meta.step}) · input ${index[0]}${what ? ` · ${what}` : ""} · ${typeof o.meta.click === "string" ? o.meta.click : "click: show this input"}` };
  }
  return { overlay: o, index, value: v, text: `${label} · unit ${index[0]} · norm ${formatStat(v)}` };
}
