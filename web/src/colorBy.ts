// Colour by quantity: map one probe statistic of every block through viridis (log scale for
// norms and update ratios), blocks without data mid-grey (never the dark of the background),
// "invalid" blocks bright red: any probe kind saw NaN/Inf values, or the statistic itself is
// NaN/Inf (a norm that overflowed). The scale's range is taken over the finite values only, so
// one invalid block never flattens it. A range that collapses to one value (one block with data,
// or all equal) is drawn at the middle of the map and said as "all = 0.12".
// Differences (nnviz3d compare, B − A) use the diverging map, symmetric about 0 (white), on a
// symmetric-log scale: one outlier layer does not wash every other change out to white.
import { diverging, viridis } from "./colormap";
import { formatStat } from "./dom";
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
  /** Differences (nnviz3d compare): symmetric about 0, on the diverging map. */
  diverging?: boolean;
  /** Differences on a symmetric-log scale: |values| below this are linear (the inner
   * ``SYMLOG_INNER`` of each half of the map), above it logarithmic up to ``max``. */
  linthresh?: number;
  /** How the values map to colours, in words (for the legend), or undefined. */
  note?: string;
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
/** Share of each half of the diverging map given to the linear part of a symmetric-log scale:
 * the smallest real change is already half-way to the map's end, clearly not white. */
export const SYMLOG_INNER = 0.5;
/** A symmetric-log scale spans at most this many decades below its largest |value|. */
const SYMLOG_DECADES = 4;
/** Below one decade between the smallest and the largest change a linear scale says it better. */
const SYMLOG_MIN_RATIO = 10;

/** Where ``v`` falls on a scale symmetric about 0: -1 .. 1 (0 = no change). Linear when
 * ``linthresh`` is 0, else symmetric log with linear part |v| <= linthresh. */
export function symmetricPosition(v: number, amax: number, linthresh: number): number {
  if (!(amax > 0)) return 0;
  const a = Math.min(Math.abs(v), amax);
  if (!(linthresh > 0)) return Math.sign(v) * (a / amax);
  if (a <= linthresh) return Math.sign(v) * SYMLOG_INNER * (a / linthresh);
  return Math.sign(v) * (SYMLOG_INNER + (1 - SYMLOG_INNER) * Math.log10(a / linthresh) / Math.log10(amax / linthresh));
}

/** The linear threshold of a symmetric-log scale for these |values|, or 0 for a linear scale:
 * the smallest change that is not float noise (SYMLOG_DECADES below the largest). */
export function symlogThreshold(vals: ArrayLike<number>, n: number, amax: number): number {
  const floor = amax * 10 ** -SYMLOG_DECADES;
  let small = Infinity;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(vals[i]);
    if (a > floor && a < small) small = a;
  }
  return Number.isFinite(small) && amax / small >= SYMLOG_MIN_RATIO ? small : 0;
}

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
    const linthresh = difference && count ? symlogThreshold(vals, n, hi) : 0;
    const unlog = (x: number) => (count ? (log ? 10 ** x : x) : NaN);
    const collapsed = count > 0 && !(unlog(hi) - unlog(lo) > SAME * Math.max(Math.abs(unlog(lo)), Math.abs(unlog(hi))));
    if (collapsed) hi = lo = difference ? 0 : lo; // one value: it is the middle of the map
    const span = hi - lo;
    const paintValue = difference ? diverging : viridis;
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      if (invalid[i]) { paint(out, i, UNHEALTHY); unhealthy++; }
      else if (v !== v) paint(out, i, NO_DATA);
      else if (difference) paintValue(span > 0 ? 0.5 + 0.5 * symmetricPosition(v, hi, linthresh) : 0.5, out, 3 * i);
      else paintValue(span > 0 ? (v - lo) / span : 0.5, out, 3 * i);
    }
    let note: string | undefined;
    if (difference && count && !collapsed) {
      note = linthresh > 0
        ? `symmetric log scale: |B − A| ≤ ${formatStat(linthresh)} linear, above it log up to ${formatStat(hi)} · white = no change`
        : "linear scale, symmetric about 0 · white = no change";
    }
    return {
      colors: out,
      scale: { key, label: q.label, log, min: unlog(lo), max: unlog(hi), count, unhealthy, diverging: difference,
        collapsed, linthresh: difference ? linthresh : undefined, note },
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
