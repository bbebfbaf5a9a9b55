// The training data shown with the model: for each probe kind (weights, gradients,
// activations) the rows of the newest frame at or before the shown step, by module path.
import type { Frame } from "./codec";
import { HIST_BINS, PROBE_KINDS, STAT_NAMES } from "./protocol.gen";
import { MARK_KINDS, MARK_NAMES, type MarkKind } from "./stepMarks";

export type ProbeKind = (typeof PROBE_KINDS)[number];
export type StatName = (typeof STAT_NAMES)[number];

export const N_STATS = STAT_NAMES.length;
export const STAT: Record<StatName, number> = Object.fromEntries(STAT_NAMES.map((n, i) => [n, i])) as Record<StatName, number>;

/** One kind's data from one probe frame; arrays are views into the frame's buffer. */
export interface KindData {
  /** The step this kind was captured at (``kinds[KIND].step``). */
  step: number;
  modules: string[];
  index: Map<string, number>;
  /** (M, 8) columns STAT_NAMES. */
  stats: Float32Array;
  /** (M, 64) counts, or null when the frame had none. */
  hist: Uint32Array | null;
  /** (M, 2) the histogram's [lo, hi], or null. */
  range: Float32Array | null;
  /** (M,) ||w - w_prev|| / ||w_prev|| (``KIND_update``), or null. */
  update: Float32Array | null;
}

/** How old one view is at the shown step: the step its data is from, or null when none exists
 * yet (at or before the shown step). */
export interface ViewAge {
  kind: MarkKind;
  /** "weights", "gradients", "activations", "weight maps". */
  name: string;
  step: number | null;
  /** Shown step minus ``step`` (0: current), or null. */
  age: number | null;
}

/** The age of every view at the shown step: the probe kinds from ``probe``, the weight maps
 * from the step of the weight overlays shown (``mapStep``; one newer than the shown step
 * is not of this step: none). */
export function viewAges(probe: ProbeState, mapStep: number | null): ViewAge[] {
  const shown = probe.step;
  return MARK_KINDS.map((kind) => {
    let step: number | null = kind === "mat" ? mapStep : probe.kinds.get(kind)?.step ?? null;
    if (step !== null && (!Number.isFinite(step) || (shown !== null && step > shown))) step = null;
    return { kind, name: MARK_NAMES[kind], step, age: step !== null && shown !== null ? shown - step : null };
  });
}

/** Forget kinds newer than a seek target when no answer replaced them within this time. */
const SEEK_PURGE_MS = 500;

export class ProbeState {
  readonly kinds = new Map<ProbeKind, KindData>();
  /** The step shown: the seek target, or in live mode the newest step received; null before any data. */
  step: number | null = null;
  /** Scalars (``loss``...) of the newest training frame at or before the shown step, and its step. */
  scalars: Record<string, number> = {};
  scalarsStep = -1;
  /** Where a seek asked to be; null in live mode. */
  private target: number | null = null;
  private unhealthy = new Set<string>();
  private purgeTimer = 0;
  /** Called after the shown data changed (merge, purge, clear). */
  onChange: () => void = () => {};

  get live(): boolean {
    return this.target === null;
  }

  /** Show the state at ``step``: frames that arrive next answer the seek. */
  seek(step: number): void {
    this.target = step;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = window.setTimeout(() => this.purge(), SEEK_PURGE_MS);
  }

  /** Follow the newest step again; the data stays until newer frames arrive. */
  follow(): void {
    this.target = null;
    clearTimeout(this.purgeTimer);
  }

  clear(): void {
    this.kinds.clear();
    this.unhealthy.clear();
    this.step = null;
    this.scalars = {};
    this.scalarsStep = -1;
    this.onChange();
  }

  /** Merge one probe frame: per kind, keep the data of the largest step (at or before the
   * seek target when there is one). True when what is shown changed. */
  merge(frame: Frame): boolean {
    const h = frame.header;
    const frameStep = Number(h.step);
    const target = this.target;
    if (target !== null && frameStep > target) return false; // a late answer to an older seek
    let changed = false;
    const kinds = (h.kinds ?? {}) as Record<string, { step: number; modules: string[] }>;
    for (const kind of PROBE_KINDS) {
      const info = kinds[kind];
      if (!info) continue;
      const data = this.readKind(kind, info, frame);
      if (!data) continue;
      if (target !== null && data.step > target) continue;
      const have = this.kinds.get(kind);
      const stale = have !== undefined && target !== null && have.step > target;
      if (have && !stale && data.step < have.step) continue;
      this.kinds.set(kind, data);
      changed = true;
    }
    const hasScalars = h.split !== "val" && h.scalars && typeof h.scalars === "object" && Object.keys(h.scalars).length > 0;
    if (hasScalars && (frameStep >= this.scalarsStep || (target !== null && this.scalarsStep > target))) {
      this.scalars = h.scalars;
      this.scalarsStep = frameStep;
      changed = true;
    }
    const shown = target ?? Math.max(this.step ?? -Infinity, frameStep);
    if (shown !== this.step) { this.step = shown; changed = true; }
    if (changed) { this.findUnhealthy(); this.onChange(); }
    return changed;
  }

  /** Drop the kinds (and scalars) newer than the seek target that no answer replaced. */
  private purge(): void {
    const target = this.target;
    if (target === null) return;
    let changed = false;
    for (const [kind, data] of this.kinds) {
      if (data.step > target) { this.kinds.delete(kind); changed = true; }
    }
    if (this.scalarsStep > target) { this.scalars = {}; this.scalarsStep = -1; changed = true; }
    if (this.step !== null && this.step !== target) { this.step = target; changed = true; }
    if (changed) { this.findUnhealthy(); this.onChange(); }
  }

  private readKind(kind: ProbeKind, info: { step: number; modules: string[] }, frame: Frame): KindData | null {
    const modules = info.modules ?? [];
    const m = modules.length;
    const a = frame.arrays;
    const stats = a[`${kind}_stats`]?.data;
    if (!(stats instanceof Float32Array) || stats.length !== m * N_STATS) return null;
    const hist = a[`${kind}_hist`]?.data;
    const range = a[`${kind}_range`]?.data;
    const update = a[`${kind}_update`]?.data;
    const index = new Map<string, number>();
    modules.forEach((mod, i) => index.set(mod, i));
    return {
      step: Number(info.step ?? frame.header.step),
      modules,
      index,
      stats,
      hist: hist instanceof Uint32Array && hist.length === m * HIST_BINS ? hist : null,
      range: range instanceof Float32Array && range.length === m * 2 ? range : null,
      update: update instanceof Float32Array && update.length === m ? update : null,
    };
  }

  private findUnhealthy(): void {
    this.unhealthy.clear();
    for (const data of this.kinds.values()) {
      const s = data.stats;
      for (let r = 0; r < data.modules.length; r++) {
        if (s[r * N_STATS + STAT.nan] > 0 || s[r * N_STATS + STAT.inf] > 0) this.unhealthy.add(data.modules[r]);
      }
    }
  }

  /** Column ``col`` of ``kind``'s stats for ``module``; NaN when there is none. */
  stat(kind: ProbeKind, module: string, col: number): number {
    const data = this.kinds.get(kind);
    const r = data?.index.get(module);
    return data && r !== undefined ? data.stats[r * N_STATS + col] : NaN;
  }

  /** True when ``kind`` has a row for ``module`` at the shown step. */
  has(kind: ProbeKind, module: string): boolean {
    return this.kinds.get(kind)?.index.has(module) ?? false;
  }

  /** The weight update ratio of ``module``; NaN when there is none. */
  updateRatio(module: string): number {
    const data = this.kinds.get("weight");
    const r = data?.index.get(module);
    return data?.update && r !== undefined ? data.update[r] : NaN;
  }

  /** True when any kind of ``module`` has NaN or Inf values at the shown step. */
  isUnhealthy(module: string): boolean {
    return this.unhealthy.has(module);
  }

  /** Module paths that have data of any kind at the shown step. */
  modules(): string[] {
    const all = new Set<string>();
    for (const data of this.kinds.values()) for (const m of data.modules) all.add(m);
    return [...all];
  }
}
