// The timeline's tick rows: which steps hold which probe kind (weights, gradients, activations,
// weight maps), one thin row per kind under the scrubber, in the kind's colour. The lists come
// from the server's timeline message (nnviz3d/server/step_marks.py); a replay's come from a
// recording, so they are read as untrusted: known kinds only, integer steps, capped in number.

/** The kinds marked, in row order; ``mat`` is the weight maps on the floor. */
export const MARK_KINDS = ["weight", "grad", "act", "mat"] as const;
export type MarkKind = (typeof MARK_KINDS)[number];
export const MARK_NAMES: Record<MarkKind, string> = { weight: "weights", grad: "gradients", act: "activations", mat: "weight maps" };
export const MARK_COLORS: Record<MarkKind, string> = { weight: "#6fa8ff", grad: "#f2a65a", act: "#7bd389", mat: "#c792ea" };
/** Most steps read per kind (the server sends at most 256). */
export const MAX_MARKS = 1024;
const ROW_PX = 3, GAP_PX = 1;
/** A range input's track starts and ends half a thumb in from its box (Chromium: 16 px thumb). */
export const TRACK_INSET_PX = 8;

export interface KindMarks {
  /** Sorted steps holding the kind (the first of each bin of ``stride`` steps). */
  steps: number[];
  stride: number;
  /** Frames that held the kind. */
  count: number;
  /** The newest step holding it (-1: unknown). */
  last: number;
}

const isStep = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The ``kinds`` of a timeline message, checked: unknown kinds, non-integer steps and steps
 * beyond ``MAX_MARKS`` per kind are dropped. */
export function readMarks(raw: unknown): Map<MarkKind, KindMarks> {
  const out = new Map<MarkKind, KindMarks>();
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return out;
  for (const kind of MARK_KINDS) {
    const e = (raw as Record<string, unknown>)[kind];
    if (!e || typeof e !== "object") continue;
    const r = e as Record<string, unknown>;
    const list = Array.isArray(r.steps) ? r.steps.slice(0, MAX_MARKS).filter(isStep) : [];
    list.sort((a, b) => a - b);
    const stride = isStep(r.stride) && r.stride >= 1 ? r.stride : 1;
    const count = isStep(r.count) ? r.count : list.length;
    const last = isStep(r.last) ? r.last : (list.length ? list[list.length - 1] : -1);
    if (!list.length && last < 0) continue;
    out.set(kind, { steps: list, stride, count, last });
  }
  return out;
}

/** The newest marked step of ``kind`` at or before ``step`` (its bin's first step), or null. */
export function markAtOrBefore(marks: KindMarks | undefined, step: number): number | null {
  if (!marks) return null;
  if (marks.last >= 0 && marks.last <= step) return marks.last;
  let lo = 0, hi = marks.steps.length; // first index with steps[i] > step
  while (lo < hi) { const m = (lo + hi) >> 1; if (marks.steps[m] <= step) lo = m + 1; else hi = m; }
  return lo > 0 ? marks.steps[lo - 1] : null;
}

/** Draw one row per kind on ``canvas`` (CSS width ``width``) for steps ``first``..``last``. */
export function drawMarks(canvas: HTMLCanvasElement, marks: Map<MarkKind, KindMarks>, first: number, last: number): void {
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const width = Math.max(1, Math.round(canvas.clientWidth));
  const height = MARK_KINDS.length * (ROW_PX + GAP_PX);
  if (canvas.width !== width * dpr || canvas.height !== height * dpr) { canvas.width = width * dpr; canvas.height = height * dpr; }
  const g = canvas.getContext("2d");
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  const span = Math.max(1, last - first), track = Math.max(1, width - 2 * TRACK_INSET_PX);
  MARK_KINDS.forEach((kind, row) => {
    const m = marks.get(kind);
    const y = row * (ROW_PX + GAP_PX);
    g.fillStyle = "rgba(255, 255, 255, 0.06)";
    g.fillRect(TRACK_INSET_PX, y, track, ROW_PX);
    if (!m) return;
    g.fillStyle = MARK_COLORS[kind];
    const binPx = Math.max(1, (m.stride / span) * track); // a tick covers its bin
    let lastX = -Infinity;
    for (const s of m.steps) {
      if (s < first || s > last) continue;
      const x = TRACK_INSET_PX + ((s - first) / span) * track;
      if (x - lastX < 1) continue; // one tick per pixel is all the eye sees
      g.fillRect(Math.min(x, TRACK_INSET_PX + track - 1), y, Math.min(binPx, 4), ROW_PX);
      lastX = x;
    }
  });
}

/** Which kinds hold the step nearest to ``x`` (CSS px on the canvas): for a tooltip. */
export function marksNear(marks: Map<MarkKind, KindMarks>, x: number, width: number, first: number, last: number): { step: number; kinds: MarkKind[] } {
  const track = Math.max(1, width - 2 * TRACK_INSET_PX), span = Math.max(1, last - first);
  const step = Math.round(first + Math.min(1, Math.max(0, (x - TRACK_INSET_PX) / track)) * span);
  const tolerance = Math.max(0.5, span / track * 2); // 2 px either side
  const kinds = MARK_KINDS.filter((k) => (marks.get(k)?.steps ?? []).some((s) => Math.abs(s - step) <= Math.max(tolerance, (marks.get(k)!.stride - 1))));
  return { step, kinds };
}

export const MARKS_HEIGHT_PX = MARK_KINDS.length * (ROW_PX + GAP_PX);
