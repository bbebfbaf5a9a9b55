// The loss chart: the train loss as a line and the validation loss as dots over steps, with a
// title, axis labels ("step", the metric), tick numbers and a marker at the shown step. On the
// desktop it is a panel in the bottom-right corner of the screen (beside the timeline, under the
// info panel), so it never cuts through the scene nor turns edge-on; the default view is moved so
// no block lies under it (viewClearance.ts). In VR (world mode) the same canvas is a plane standing
// before the model's input that turns to face the headset.
// A value that is NaN or infinite (a diverged run) breaks the line and is marked in red on the
// step axis; the newest one is written in red beside the title ("NaN at step 12"). The axis
// range covers the finite values only. Redrawn only when the history or the shown step change.
// Two runs compared (nnviz3d compare) give metrics in pairs, ``loss A`` and ``loss B``: asking
// for ``loss`` (or either of the pair) draws both lines together, A blue and B pink, on one axis.
import * as THREE from "three";
import type { Frame } from "./codec";
import { displayName, formatStat } from "./dom";

const W = 1024, H = 512;
const PLOT = { left: 178, right: W - 44, top: 104, bottom: H - 118 };
/** A positive metric spanning this ratio or more is drawn on a log axis. */
const LOG_RATIO = 20;
const TRAIN = "#6fa8ff", VAL = "#f2a65a", BAD = "#ff4a4a", TEXT = "#e3e7ef", DIM = "#9aa4b8";
/** The second run's line (nnviz3d compare: ``loss B``). */
const TRAIN_B = "#ef6fb0";
/** Characters of a metric name drawn as the title, and the most width it takes (px). */
const TITLE_CHARS = 60, TITLE_WIDTH = 560;
/** Characters of the metric name along the y axis. */
const AXIS_CHARS = 18;
/** The metric drawn; the first one when a history has no ``loss``. */
const METRIC = "loss";
const FONT = "Roboto, system-ui, sans-serif";

/** What the chart shows as text (for the automation API and tests). */
export interface ChartText {
  title: string;
  xLabel: string;
  yLabel: string;
  xTicks: string[];
  yTicks: string[];
  log: boolean;
  /** The metrics drawn as lines: one, or a compared pair (``loss A``, ``loss B``). */
  series: string[];
}

/** The pair ``[NAME A, NAME B]`` that ``want`` names (``loss``, ``loss A`` or ``loss B``) when
 * ``names`` has both, else null. */
export function comparedPair(names: string[], want: string): [string, string] | null {
  const base = names.includes(want) && !/ [AB]$/.test(want) ? want : want.replace(/ [AB]$/, "");
  const pair: [string, string] = [`${base} A`, `${base} B`];
  return names.includes(pair[0]) && names.includes(pair[1]) ? pair : null;
}

/** About ``count`` round tick values (1, 2, 5 x 10^k apart) within [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number, integer = false): number[] {
  if (!(hi >= lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  let step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && out.length < 50; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/** Tick values of a log axis over [lo, hi] (both > 0): the powers of ten, with 2 and 5 times
 * them when the range holds fewer than three. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** k).toPrecision(6));
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  const powers = out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  if (powers.length >= 3) return powers;
  const ones = out.filter((v) => !String(v).includes("2")); // 1 and 5 times the powers
  if (out.length > 5 && ones.length >= 2) return ones;
  return out.length >= 2 ? out : niceTicks(lo, hi, 3);
}

export class LossChart {
  /** The world-space chart (VR). */
  readonly mesh: THREE.Mesh;
  /** The desktop panel holding the chart's canvas. */
  readonly panel: HTMLDivElement;
  private readonly canvas = document.createElement("canvas");
  private mode: "screen" | "world" = "screen";
  /** The title, axis labels and tick numbers last drawn. */
  text: ChartText = { title: "", xLabel: "", yLabel: "", xTicks: [], yTicks: [], log: false, series: [] };
  private readonly ctx: CanvasRenderingContext2D;
  private readonly texture: THREE.CanvasTexture;
  private metric = METRIC;
  /** The metric asked for (``loss`` unless the viewer chose another). */
  wanted = METRIC;
  /** Increments appended since the page opened (``scalars`` frames with ``from``). */
  appended = 0;
  /** Metric names of the last history. */
  names: string[] = [];
  private lastFrame: Frame | null = null;
  private steps: Int32Array = new Int32Array(0);
  private split: Uint8Array = new Uint8Array(0);
  private values: Float32Array = new Float32Array(0);
  /** Points from live probe frames newer than the history: step, split, value. */
  private extra: number[] = [];
  private lastStep = [-Infinity, -Infinity];
  private step: number | null = null;
  private hasData = false;
  /** Whether each history row gave the metric (a NaN that was given is a diverged value). */
  private given: Uint8Array = new Uint8Array(0);
  /** The second metric of a compared pair (``loss B``): its name, values and ``given``. */
  private second: { name: string; values: Float32Array; given: Uint8Array } | null = null;
  /** The name shown as the title and on the y axis (``loss`` for a compared pair). */
  private title = METRIC;
  /** The newest train value of the metric (NaN/Inf included) and its step, or null. */
  latest: { step: number; value: number } | null = null;
  /** Values of the metric drawn that are NaN or infinite. */
  nonfinite = 0;
  /** NaN values seen in probe frames, by "metric|split|step": a history without ``given``
   * cannot tell them from steps that had no value. */
  private seenNaN = new Set<string>();

  constructor() {
    this.canvas.width = W;
    this.canvas.height = H;
    this.ctx = this.canvas.getContext("2d")!;
    this.texture = new THREE.CanvasTexture(this.canvas);
    this.texture.colorSpace = THREE.SRGBColorSpace;
    this.texture.anisotropy = 4;
    const material = new THREE.MeshBasicMaterial({ map: this.texture, transparent: true, alphaTest: 0.02,
      side: THREE.DoubleSide, toneMapped: false });
    this.mesh = new THREE.Mesh(new THREE.PlaneGeometry(W / H, 1), material);
    this.mesh.name = "loss-chart";
    this.mesh.visible = false;
    this.panel = document.createElement("div");
    this.panel.id = "chart-panel";
    this.panel.hidden = true;
    this.canvas.setAttribute("role", "img");
    this.panel.appendChild(this.canvas);
    document.body.appendChild(this.panel);
  }

  /** True when the chart has something to draw (it is shown, as a panel or in the scene). */
  get visible(): boolean {
    return this.hasData;
  }

  /** "screen" (a desktop panel) or "world" (a plane in the scene). */
  get orientation(): "screen" | "world" {
    return this.mode;
  }

  /** A ``scalars`` frame: the whole history replaces what was drawn. */
  setHistory(frame: Frame): void {
    this.lastFrame = frame;
    const names = (frame.header.names ?? []) as string[];
    this.names = names;
    const k = names.length;
    const steps = frame.arrays.steps?.data, split = frame.arrays.split?.data, values = frame.arrays.values?.data;
    const given = frame.arrays.given?.data;
    const n = steps?.length ?? 0;
    const want = names.indexOf(this.wanted) >= 0 ? this.wanted : METRIC;
    const pair = comparedPair(names, this.wanted) ?? comparedPair(names, want);
    const col = pair ? names.indexOf(pair[0]) : names.indexOf(want) >= 0 ? names.indexOf(want) : 0;
    this.second = null;
    this.extra.length = 0;
    this.lastStep[0] = this.lastStep[1] = -Infinity;
    this.latest = null;
    if (!k || !(steps instanceof Int32Array) || !(split instanceof Uint8Array) || !(values instanceof Float32Array)
      || split.length !== n || values.length !== n * k) {
      this.steps = new Int32Array(0);
      this.redraw();
      return;
    }
    this.metric = names[col];
    this.title = pair ? pair[0].slice(0, -2) : this.metric;
    this.steps = steps;
    this.split = split;
    this.values = new Float32Array(n);
    this.given = new Uint8Array(n);
    const hasGiven = given instanceof Uint8Array && given.length === n * k;
    for (let i = 0; i < n; i++) {
      const v = values[i * k + col];
      this.values[i] = v;
      // without ``given`` (older servers) NaN means "not given"; an infinity always was
      this.given[i] = hasGiven ? (given[i * k + col] ? 1 : 0)
        : !Number.isNaN(v) || this.seenNaN.has(`${this.metric}|${split[i] ? 1 : 0}|${steps[i]}`) ? 1 : 0;
      const s = split[i] ? 1 : 0;
      if (this.given[i]) {
        this.lastStep[s] = Math.max(this.lastStep[s], steps[i]);
        if (!s && (!this.latest || steps[i] >= this.latest.step)) this.latest = { step: steps[i], value: v };
      }
    }
    if (pair) {
      const colB = names.indexOf(pair[1]);
      const second = { name: pair[1], values: new Float32Array(n), given: new Uint8Array(n) };
      for (let i = 0; i < n; i++) {
        const v = values[i * k + colB];
        second.values[i] = v;
        second.given[i] = hasGiven ? (given[i * k + colB] ? 1 : 0) : Number.isNaN(v) ? 0 : 1;
      }
      this.second = second;
    }
    this.redraw();
  }

  /** A ``scalars`` frame with ``from``: rows that continue the history from row ``from``
   * (the server sends only what is new; a whole history comes on join and after the server
   * decimated its own). Ignored unless it continues exactly the history held. */
  appendHistory(frame: Frame): boolean {
    const base = this.lastFrame;
    const names = (frame.header.names ?? []) as string[];
    const from = frame.header.from;
    const a = base?.arrays, b = frame.arrays;
    if (!base || !a || typeof from !== "number" || names.join("\u0000") !== this.names.join("\u0000")) return false;
    const parts = ["steps", "split", "values", "given"] as const;
    if (parts.some((p) => !a[p] || !b[p] || a[p].data.constructor !== b[p].data.constructor)) return false;
    if (a.steps.data.length !== from) return false;
    const arrays: Frame["arrays"] = {};
    for (const p of parts) {
      const x = a[p].data, y = b[p].data;
      const out = new (x.constructor as Int32ArrayConstructor)(x.length + y.length) as unknown as typeof x;
      (out as Int32Array).set(x as Int32Array);
      (out as Int32Array).set(y as Int32Array, x.length);
      const shape = [...a[p].shape];
      shape[0] = (shape[0] ?? 0) + (b[p].shape[0] ?? 0);
      arrays[p] = { dtype: a[p].dtype, shape, data: out };
    }
    this.setHistory({ header: { ...base.header }, arrays });
    this.appended += 1;
    return true;
  }

  /** Draw another metric of the history (it shows once the history has it). */
  setMetric(name: string): void {
    this.wanted = name;
    if (this.lastFrame) this.setHistory(this.lastFrame);
  }

  /** Rows of the history held (whole histories and the increments since). */
  get rows(): number {
    return this.steps.length;
  }

  /** The metric drawn now. */
  get shown(): string {
    return this.metric;
  }

  /** Remember the NaN scalars of any probe frame (live or answering a seek). */
  noteScalars(step: number, split: string, scalars: Record<string, number> | undefined): void {
    if (!scalars || typeof scalars !== "object" || this.seenNaN.size > 100_000) return;
    const s = split === "val" ? 1 : 0;
    for (const [name, v] of Object.entries(scalars)) if (typeof v === "number" && Number.isNaN(v)) this.seenNaN.add(`${name}|${s}|${step}`);
  }

  /** A live probe frame's scalars, kept until the next history arrives. */
  addLive(step: number, split: string, scalars: Record<string, number> | undefined): void {
    const v = scalars?.[this.metric];
    const s = split === "val" ? 1 : 0;
    if (typeof v !== "number" || step <= this.lastStep[s]) return;
    this.extra.push(step, s, v);
    this.lastStep[s] = step;
    if (!s) this.latest = { step, value: v };
    this.redraw();
  }

  setStep(step: number | null): void {
    if (step === this.step) return;
    this.step = step;
    if (this.hasData) this.redraw();
  }

  /** Where the chart stands in VR (world mode): on the floor before the model's input, far
   * enough that turning to face the viewer never takes it into ``bounds`` (the model). */
  place(bounds: THREE.Box3): void {
    const size = bounds.getSize(new THREE.Vector3());
    const h = Math.max(1.5, Math.min(size.y * 1.5, 0.25 * Math.max(size.x, size.z)) || 1.5);
    const w = h * (W / H);
    this.mesh.scale.set(h, h, 1);
    this.mesh.position.set((bounds.min.x + bounds.max.x) / 2, h / 2 + 0.05, bounds.min.z - w / 2 - 0.3 * h);
    this.mesh.rotation.set(0, Math.PI, 0); // faces the input end until a viewer turns it
    this.mesh.updateMatrixWorld();
  }

  /** Screen (a desktop panel) or world (a plane in the scene: VR). */
  setMode(mode: "screen" | "world"): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.showWhere();
  }

  /** World mode: turn the chart about its vertical axis to face ``eye`` (model coordinates). */
  faceToward(eye: THREE.Vector3): void {
    const dx = eye.x - this.mesh.position.x, dz = eye.z - this.mesh.position.z;
    if (dx * dx + dz * dz < 1e-8) return;
    this.mesh.rotation.set(0, Math.atan2(dx, dz), 0);
  }

  /** The chart's box in the scene, or null while it is not in the scene (hidden, or a panel). */
  box(): THREE.Box3 | null {
    return this.mesh.visible ? new THREE.Box3().setFromObject(this.mesh) : null;
  }

  /** The desktop panel's rectangle (CSS px), or null while it is hidden. */
  rect(): DOMRect | null {
    return this.panel.hidden ? null : this.panel.getBoundingClientRect();
  }

  private showWhere(): void {
    this.panel.hidden = !(this.hasData && this.mode === "screen");
    this.mesh.visible = this.hasData && this.mode === "world";
  }

  private redraw(): void {
    let first = Infinity, last = -Infinity, lo = Infinity, hi = -Infinity;
    const { steps, values, extra, given } = this;
    /** Steps (and split, value) of the values that are NaN or infinite. */
    const bad: number[] = [];
    const see = (step: number, split: number, v: number) => {
      if (step < first) first = step;
      if (step > last) last = step;
      if (!Number.isFinite(v)) { bad.push(step, split, v); return; }
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    };
    for (let i = 0; i < steps.length; i++) if (given[i]) see(steps[i], this.split[i] ? 1 : 0, values[i]);
    for (let i = 0; i < extra.length; i += 3) see(extra[i], extra[i + 1], extra[i + 2]);
    const second = this.second;
    if (second) for (let i = 0; i < steps.length; i++) if (second.given[i]) see(steps[i], this.split[i] ? 1 : 0, second.values[i]);
    this.nonfinite = bad.length / 3;
    this.hasData = first <= last;
    this.showWhere();
    if (!this.hasData) return;
    if (!(lo <= hi)) { lo = 0; hi = 1; } // nothing finite to scale by: an empty axis
    if (last === first) { first -= 1; last += 1; }
    const log = lo > 0 && hi / lo >= LOG_RATIO;
    const f = log ? Math.log10 : (v: number) => v;
    const flo = f(lo), fhi = f(hi);
    const pad = fhi > flo ? 0.06 * (fhi - flo) : Math.max(Math.abs(fhi) * 0.1, 1e-3);
    const y0 = flo - pad, y1 = fhi + pad;
    const x = (s: number) => PLOT.left + ((s - first) / (last - first)) * (PLOT.right - PLOT.left);
    const y = (v: number) => PLOT.bottom - ((f(v) - y0) / (y1 - y0)) * (PLOT.bottom - PLOT.top);
    const vLo = log ? 10 ** y0 : y0, vHi = log ? 10 ** y1 : y1;
    const yTicks = log ? logTicks(vLo, vHi) : niceTicks(vLo, vHi, 4);
    const xTicks = niceTicks(first, last, 5, true).filter((s) => s >= first && s <= last);

    const ctx = this.ctx;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "rgba(20, 24, 33, 0.92)";
    ctx.strokeStyle = "#2c3342";
    ctx.lineWidth = 4;
    ctx.beginPath();
    ctx.roundRect(2, 2, W - 4, H - 4, 24);
    ctx.fill();
    ctx.stroke();
    // grid lines and tick numbers
    ctx.font = `34px ${FONT}`;
    ctx.fillStyle = DIM;
    ctx.strokeStyle = "#262c3a";
    ctx.lineWidth = 2;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const yText: string[] = [];
    for (const v of yTicks) {
      const ty = y(v);
      if (ty < PLOT.top - 2 || ty > PLOT.bottom + 2) continue;
      ctx.beginPath();
      ctx.moveTo(PLOT.left, ty);
      ctx.lineTo(PLOT.right, ty);
      ctx.stroke();
      const t = formatStat(v);
      yText.push(t);
      ctx.fillText(t, PLOT.left - 14, ty);
    }
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    const xText: string[] = [];
    for (const s of xTicks) {
      const t = String(s);
      xText.push(t);
      ctx.fillText(t, Math.min(Math.max(x(s), PLOT.left + 10), PLOT.right - 10), PLOT.bottom + 12);
      ctx.beginPath();
      ctx.moveTo(x(s), PLOT.bottom);
      ctx.lineTo(x(s), PLOT.bottom + 8);
      ctx.stroke();
    }
    // axes and their labels
    ctx.strokeStyle = "#4a5470";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(PLOT.left, PLOT.top - 8);
    ctx.lineTo(PLOT.left, PLOT.bottom);
    ctx.lineTo(PLOT.right + 8, PLOT.bottom);
    ctx.stroke();
    ctx.font = `italic 34px ${FONT}`;
    ctx.fillStyle = DIM;
    ctx.textBaseline = "bottom";
    ctx.fillText("step", (PLOT.left + PLOT.right) / 2, H - 14);
    const yLabel = displayName(this.title, AXIS_CHARS) + (log ? " (log)" : "");
    ctx.save();
    ctx.translate(44, (PLOT.top + PLOT.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
    // title and key
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    ctx.font = `bold 42px ${FONT}`;
    ctx.fillStyle = TEXT;
    let title = displayName(this.title, TITLE_CHARS);
    while (title.length > 2 && ctx.measureText(title).width > TITLE_WIDTH) title = `${title.slice(0, -2)}…`;
    ctx.fillText(title, 32, 48);
    let tx = 46 + ctx.measureText(title).width;
    const newest = this.latest;
    ctx.font = `34px ${FONT}`;
    if (newest && !Number.isFinite(newest.value)) {
      ctx.font = `bold 34px ${FONT}`;
      ctx.fillStyle = BAD;
      ctx.fillText(`${formatStat(newest.value)} at step ${newest.step}`, tx, 50);
    } else if (newest && !this.second) { // a compared pair's key needs the room
      ctx.fillStyle = DIM;
      const note = `${formatStat(newest.value)} at step ${newest.step}`;
      if (tx + ctx.measureText(note).width < W - 300) ctx.fillText(note, tx, 50);
    }
    tx = W - 40;
    ctx.font = `34px ${FONT}`;
    ctx.textAlign = "right";
    let hasVal = false; // the key names the validation dots only when there are some
    for (let i = 0; i < steps.length && !hasVal; i++) hasVal = !!this.split[i] && !!given[i];
    for (let i = 0; i < extra.length && !hasVal; i += 3) hasVal = !!extra[i + 1];
    if (hasVal) {
      ctx.fillStyle = VAL;
      ctx.fillText("● val", tx, 48);
      tx -= ctx.measureText("● val").width + 24;
    }
    const keys: [string, string][] = second ? [[TRAIN_B, `— ${displayName(second.name, 24)}`], [TRAIN, `— ${displayName(this.metric, 24)}`]]
      : [[TRAIN, "— train"]];
    for (const [color, key] of keys) {
      ctx.fillStyle = color;
      ctx.fillText(key, tx, 48);
      tx -= ctx.measureText(key).width + 24;
    }
    this.text = { title, xLabel: "step", yLabel, xTicks: xText, yTicks: yText, log,
      series: second ? [this.metric, second.name] : [this.metric] };
    // train line, validation dots
    ctx.save();
    ctx.beginPath();
    ctx.rect(PLOT.left, PLOT.top - 8, PLOT.right - PLOT.left + 8, PLOT.bottom - PLOT.top + 8);
    ctx.clip();
    ctx.strokeStyle = TRAIN;
    ctx.lineWidth = 4;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let pen = false;
    // a NaN/Inf value lifts the pen: the line has a gap where the run had no number
    const trace = (s: number, v: number) => {
      if (!Number.isFinite(v)) { pen = false; return; }
      if (pen) ctx.lineTo(x(s), y(v));
      else { ctx.moveTo(x(s), y(v)); pen = true; }
    };
    for (let i = 0; i < steps.length; i++) if (!this.split[i] && given[i]) trace(steps[i], values[i]);
    for (let i = 0; i < extra.length; i += 3) if (!extra[i + 1]) trace(extra[i], extra[i + 2]);
    ctx.stroke();
    if (second) {
      ctx.strokeStyle = TRAIN_B;
      ctx.beginPath();
      pen = false;
      for (let i = 0; i < steps.length; i++) if (!this.split[i] && second.given[i]) trace(steps[i], second.values[i]);
      ctx.stroke();
    }
    ctx.fillStyle = VAL;
    const dot = (s: number, v: number) => { ctx.beginPath(); ctx.arc(x(s), y(v), 7, 0, 2 * Math.PI); ctx.fill(); };
    for (let i = 0; i < steps.length; i++) if (this.split[i] && Number.isFinite(values[i])) dot(steps[i], values[i]);
    for (let i = 0; i < extra.length; i += 3) if (extra[i + 1] && Number.isFinite(extra[i + 2])) dot(extra[i], extra[i + 2]);
    // non-finite values: a red tick on the step axis (top edge for +Inf, bottom for -Inf/NaN)
    ctx.fillStyle = BAD;
    for (let i = 0; i < bad.length; i += 3) {
      const v = bad[i + 2];
      ctx.fillRect(x(bad[i]) - 2, v === Infinity ? PLOT.top - 8 : PLOT.bottom - 16, 4, 24);
    }
    ctx.restore();
    // the shown step
    if (this.step !== null && this.step >= first && this.step <= last) {
      const sx = x(this.step);
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2;
      ctx.setLineDash([10, 8]);
      ctx.beginPath();
      ctx.moveTo(sx, PLOT.top);
      ctx.lineTo(sx, PLOT.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = `30px ${FONT}`;
      ctx.fillStyle = "#ffffff";
      ctx.textBaseline = "top";
      ctx.textAlign = sx > W - 200 ? "right" : "left";
      ctx.fillText(`step ${this.step}`, sx + (ctx.textAlign === "right" ? -8 : 8), PLOT.top - 2);
    }
    this.texture.needsUpdate = true;
  }
}
