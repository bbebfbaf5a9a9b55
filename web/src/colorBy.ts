// Colour by quantity: map one probe statistic of every block through viridis (log scale for
// norms and update ratios), blocks without data mid-grey (never the dark of the background),
// "invalid" blocks bright red: any probe kind saw NaN/Inf values, or the statistic itself is
// NaN/Inf (a norm that overflowed). The scale's range is taken over the finite values only, so
// one invalid block never flattens it. A range that collapses to one value (one block with data,
// or all equal) is drawn at the middle of the map and said as "all = 0.12".
import { diverging, viridis } from "./colormap";
import { type ProbeKind, type ProbeState, STAT } from "./probeState";
import type { BlockInfo } from "./sceneView";

export interface Quantity {
  label: string;
  /** Probe kind and stats column, or "update" for the weight update ratio; absent for "kind". */
  kind?: ProbeKind;
  col?: number | "update";
  log?: boolean;
}

export const QUANTITIES = {
  kind: { label: "what it does" },
  weight_norm: { label: "weight norm", kind: "weight", col: STAT.norm, log: true },
  grad_norm: { label: "gradient norm", kind: "grad", col: STAT.norm, log: true },
  update_ratio: { label: "update ratio", kind: "weight", col: "update", log: true },
  act_mean: { label: "activation mean", kind: "act", col: STAT.mean, log: false },
  act_std: { label: "activation std", kind: "act", col: STAT.std, log: false },
  act_zero: { label: "fraction zero (activations)", kind: "act", col: STAT.zero_frac, log: false },
} satisfies Record<string, Quantity>;

export type ColorKey = keyof typeof QUANTITIES;

export function isColorKey(key: unknown): key is ColorKey {
  return typeof key === "string" && Object.prototype.hasOwnProperty.call(QUANTITIES, key);
}

/** What the legend shows for a quantity: its name and the range of the shown values. */
export interface ColorScale {
  key: ColorKey;
  label: string;
  log: boolean;
  /** Smallest and largest shown value (not logged); NaN when no block has data. */
  min: number;
  max: number;
  /** Blocks with a value. */
  count: number;
  /** Blocks drawn red ("invalid": NaN/Inf). */
  unhealthy: number;
  /** Differences (nnviz3d compare): linear, symmetric about 0, on the diverging map. */
  diverging?: boolean;
  /** Every block with data has the same value (``min === max``): one colour, the map's middle. */
  collapsed?: boolean;
}

/** Linear RGB: a neutral mid-grey, far from the background (#10131a) and from viridis' hues. */
export const NO_DATA: readonly number[] = [0.2, 0.2, 0.2];
/** The same grey for the legend (sRGB). */
export const NO_DATA_CSS = "#7c7c7c";
/** Values this close (relative) count as one: float noise does not stretch a scale. */
const SAME = 1e-6;
const UNHEALTHY: readonly number[] = [1, 0.02, 0.02];

/** The value of quantity ``q`` for ``module``; NaN when there is none. */
export function quantityValue(q: Quantity, probe: ProbeState, module: string): number {
  if (!q.kind || q.col === undefined) return NaN;
  return q.col === "update" ? probe.updateRatio(module) : probe.stat(q.kind, module, q.col);
}

/** True when ``module`` is drawn "invalid" under ``q``: NaN/Inf values in any probe kind, or a
 * value of ``q`` that exists and is not finite (an update ratio is NaN at the first capture:
 * that is "no data", an infinite one is invalid). */
export function isInvalid(q: Quantity, probe: ProbeState, module: string): boolean {
  if (probe.isUnhealthy(module)) return true;
  if (!q.kind || q.col === undefined || !probe.has(q.kind, module)) return false;
  const v = quantityValue(q, probe, module);
  return q.col === "update" ? v === Infinity || v === -Infinity : !Number.isFinite(v);
}

export class BlockColoring {
  private colors = new Float32Array(0);
  private values = new Float64Array(0);
  private invalid = new Uint8Array(0);

  /** Colours for ``blocks`` under ``key``; ``colors`` null means "the category colours as they
   * are" (quantity "kind" with no NaN/Inf block). The returned array is reused by the next call. */
  compute(key: ColorKey, blocks: BlockInfo[], categories: Float32Array, probe: ProbeState,
    difference = false): { colors: Float32Array | null; scale: ColorScale | null } {
    const n = blocks.length;
    const q: Quantity = QUANTITIES[key];
    if (!q.kind) {
      if (!blocks.some((b) => probe.isUnhealthy(b.module))) return { colors: null, scale: null };
      const out = this.buffer(n);
      out.set(categories.subarray(0, n * 3));
      for (let i = 0; i < n; i++) if (probe.isUnhealthy(blocks[i].module)) paint(out, i, UNHEALTHY);
      return { colors: out, scale: null };
    }
    const out = this.buffer(n);
    if (this.values.length < n) this.values = new Float64Array(n);
    const vals = this.values;
    // a difference can be negative: no log, and a range symmetric about 0 (white)
    const log = !difference && (q.log ?? false);
    let lo = Infinity, hi = -Infinity, count = 0, unhealthy = 0;
    const invalid = this.invalid.length >= n ? this.invalid : (this.invalid = new Uint8Array(n));
    for (let i = 0; i < n; i++) {
      invalid[i] = isInvalid(q, probe, blocks[i].module) ? 1 : 0;
      let v = invalid[i] ? NaN : quantityValue(q, probe, blocks[i].module);
      if (log) v = v > 0 ? Math.log10(v) : NaN;
      if (!Number.isFinite(v)) v = NaN;
      vals[i] = v;
      if (v === v) { count++; if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (difference && count) { hi = Math.max(Math.abs(lo), Math.abs(hi)); lo = -hi; }
    const unlog = (x: number) => (count ? (log ? 10 ** x : x) : NaN);
    const collapsed = count > 0 && !(unlog(hi) - unlog(lo) > SAME * Math.max(Math.abs(unlog(lo)), Math.abs(unlog(hi))));
    if (collapsed) hi = lo = difference ? 0 : lo; // one value: it is the middle of the map
    const span = hi - lo;
    const paintValue = difference ? diverging : viridis;
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      if (invalid[i]) { paint(out, i, UNHEALTHY); unhealthy++; }
      else if (v !== v) paint(out, i, NO_DATA);
      else paintValue(span > 0 ? (v - lo) / span : 0.5, out, 3 * i);
    }
    return {
      colors: out,
      scale: { key, label: q.label, log, min: unlog(lo), max: unlog(hi), count, unhealthy, diverging: difference,
        collapsed },
    };
  }

  private buffer(n: number): Float32Array {
    if (this.colors.length !== n * 3) this.colors = new Float32Array(n * 3);
    return this.colors;
  }
}

function paint(out: Float32Array, i: number, rgb: readonly number[]): void {
  out[3 * i] = rgb[0];
  out[3 * i + 1] = rgb[1];
  out[3 * i + 2] = rgb[2];
}
