// Overlay frames as the viewer holds them: each overlay's metadata and arrays, with the colours
// and heights of compact frames derived from their values (nnviz3d/protocol/overlay_frame.py).
import type { Frame, NumericArray } from "./codec";
import { safeColor } from "./dom";

export interface OverlayInfo {
  kind: "grid" | "bars" | "ridge" | "points" | "slabs" | "surface";
  module: string;
  name: string;
  legend: { colormap: string; stops: string[]; lo: number; hi: number; units: string; missing: string; classes?: number[] };
  meta: Record<string, any>;
  arrays: Record<string, NumericArray>;
  shape: number[];
}

export interface OverlayHit { overlay: OverlayInfo; index: number[]; value: number; text: string; }

export function parse(frame: Frame): OverlayInfo[] {
  const luts = (frame.header.luts ?? {}) as Record<string, number[]>;
  return (frame.header.overlays as any[]).map((o) => {
    const arrays: Record<string, NumericArray> = {};
    let shape: number[] = [];
    for (const [role, name] of Object.entries(o.arrays as Record<string, string>)) {
      arrays[role] = frame.arrays[name].data;
      if (role === "positions" || (role === "values" && o.kind !== "points")) shape = frame.arrays[name].shape;
    }
    if (o.derived) derive(arrays, o.legend, luts[o.legend.colormap]);
    return { ...o, arrays, shape } as OverlayInfo;
  });
}

/** Colours and heights of a compact grid or bars overlay, exactly as the server's builder
 * made them (nnviz3d/protocol/overlay_frame.py ``derive``): the LUT row is
 * floor((v - lo) / (hi - lo) * 255 + 0.5) clamped, NaN is the legend's missing colour. */
function derive(arrays: Record<string, NumericArray>, legend: OverlayInfo["legend"], lut: number[]): void {
  const v = arrays.values;
  const colors = new Uint8Array(v.length * 3);
  const heights = new Float32Array(v.length);
  const width = legend.hi > legend.lo ? legend.hi - legend.lo : 1;
  const miss = parseInt(safeColor(legend.missing, "#404040").slice(1), 16);
  const hi = Math.fround(legend.hi);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    // a NaN/Inf value, or a legend without a finite range, gets the missing colour, no height
    const k = Math.min(255, Math.max(0, Math.floor(((x - legend.lo) / width) * 255 + 0.5)));
    if (!Number.isFinite(x) || !Number.isFinite(k) || !Array.isArray(lut) || lut.length < 768) {
      colors.set([(miss >> 16) & 255, (miss >> 8) & 255, miss & 255], 3 * i);
      continue;
    }
    colors.set([lut[3 * k], lut[3 * k + 1], lut[3 * k + 2]], 3 * i);
    const h = Math.fround(x / hi);
    heights[i] = Number.isFinite(h) ? h : 0;
  }
  arrays.colors = colors;
  arrays.heights = heights;
}
