// A CKA frame (nnviz3d/protocol/cka_frame.py) checked before anything is drawn: recordings and
// the wire are untrusted, so sizes come from the names it lists and must match its arrays, and
// every value must be a CKA (finite, 0..1). A frame that fails is refused whole with a reason.
import type { Frame } from "./codec";

/** The most layers a frame may name (as the Python side). */
export const CKA_MAX_LAYERS = 512;

export interface CkaData {
  step: number;
  /** Layers (rows) in graph order; for a cross frame, model A's. */
  layers: string[];
  /** Columns: the same layers, or model B's in a cross frame. */
  columns: string[];
  /** Row-major rows x columns values in 0..1. */
  matrix: Float32Array;
  /** Each layer's 3D position (MDS of 1 - CKA), or null (cross frames). */
  points: Float32Array | null;
  /** Indices of layers whose features did not vary (no CKA). */
  undefined: number[];
  cross: boolean;
  /** What a cross matrix was computed from, or why there is none. */
  note: string;
}

function names(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > CKA_MAX_LAYERS || !value.every((v) => typeof v === "string" && v.length <= 1000))
    throw new Error(`its ${what} are not a list of at most ${CKA_MAX_LAYERS} names`);
  return value as string[];
}

/** The checked content of a ``cka`` overlays frame; throws an Error saying what is wrong. */
export function checkCka(frame: Frame): CkaData {
  const h = frame.header;
  if (h.channel !== "cka") throw new Error("not a CKA frame");
  if (!Number.isInteger(h.step)) throw new Error("its step is not an integer");
  const cross = h.cross === true;
  const layers = names(h.layers, "layers");
  const columns = cross ? names(h.layers_b, "layers_b") : layers;
  const m = frame.arrays.matrix;
  if (!m || m.dtype !== "f4" || m.shape.length !== 2 || m.shape[0] !== layers.length || m.shape[1] !== columns.length)
    throw new Error(`its matrix is ${m ? m.shape.join(" x ") : "missing"}, not ${layers.length} x ${columns.length} for the layers it names`);
  const matrix = m.data as Float32Array;
  for (let i = 0; i < matrix.length; i++) {
    const v = matrix[i];
    if (!(v >= 0 && v <= 1)) throw new Error("its matrix holds values that are not CKA (NaN, Inf or outside 0..1)");
  }
  const undef = Array.isArray(h.undefined) ? h.undefined : [];
  if (!undef.every((i: unknown) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < layers.length))
    throw new Error("its undefined layers are not indices of its layers");
  let points: Float32Array | null = null;
  const p = frame.arrays.points;
  if (p && !cross) {
    if (p.dtype !== "f4" || p.shape.length !== 2 || p.shape[0] !== layers.length || p.shape[1] !== 3)
      throw new Error(`its points are ${p.shape.join(" x ")}, not ${layers.length} x 3`);
    points = p.data as Float32Array;
    for (let i = 0; i < points.length; i++) if (!Number.isFinite(points[i])) throw new Error("its points are not finite");
  }
  return { step: h.step, layers, columns, matrix, points, undefined: undef as number[], cross,
    note: typeof h.note === "string" ? h.note.slice(0, 400) : "" };
}
