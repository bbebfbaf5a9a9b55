// The loss chart standing beside the model: one plane with a canvas texture showing the train
// loss as a line and the validation loss as dots over steps, and a marker at the shown step.
// A value that is NaN or infinite (a diverged run) breaks the line and is marked in red on the
// step axis; the newest one is written in red beside the title ("NaN at step 12"). The axis
// range covers the finite values only. Redrawn only when the history or the shown step change.
import * as THREE from "three";
import type { Frame } from "./codec";
import { VIEW_FROM } from "./navigation";
import { displayName, formatStat } from "./dom";

const W = 1024, H = 512;
const PLOT = { left: 184, right: W - 40, top: 78, bottom: H - 78 };
/** A positive metric spanning this ratio or more is drawn on a log axis. */
const LOG_RATIO = 20;
const TRAIN = "#6fa8ff", VAL = "#f2a65a", BAD = "#ff4a4a";
/** Characters of a metric name drawn as the title, and the most width it takes (px). */
const TITLE_CHARS = 60, TITLE_WIDTH = 520;
/** The metric drawn; the first one when a history has no ``loss``. */
const METRIC = "loss";

export class LossChart {
  readonly mesh: THREE.Mesh;
  private readonly canvas = document.createElement("canvas");
  private readonly ctx: CanvasRenderingContext2D;
  private readonly texture: THREE.CanvasTexture;
  private metric = METRIC;
  /** The metric asked for (``loss`` unless the viewer chose another). */
  wanted = METRIC;
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
    this.mesh.rotation.y = Math.atan2(VIEW_FROM.x, VIEW_FROM.z); // faces the default view
    this.mesh.visible = false;
  }

  get visible(): boolean {
    return this.mesh.visible;
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
    const col = names.indexOf(want) >= 0 ? names.indexOf(want) : 0;
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
    this.redraw();
  }

  /** Draw another metric of the history (it shows once the history has it). */
  setMetric(name: string): void {
    this.wanted = name;
    if (this.lastFrame) this.setHistory(this.lastFrame);
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

  /** Stand the chart on the floor to the left of ``bounds`` (the model), sized to it. */
  place(bounds: THREE.Box3): void {
    const size = bounds.getSize(new THREE.Vector3());
    const h = Math.max(1.5, size.y, 0.2 * Math.max(size.x, size.z));
    const w = h * (W / H);
    this.mesh.scale.set(h, h, 1);
    const right = new THREE.Vector3(1, 0, 0).applyAxisAngle(new THREE.Vector3(0, 1, 0), this.mesh.rotation.y);
    const edge = new THREE.Vector3((bounds.min.x + bounds.max.x) / 2, bounds.min.y + h / 2, bounds.min.z - 0.15 * h);
    this.mesh.position.copy(edge).addScaledVector(right, -w / 2);
    this.mesh.updateMatrixWorld();
  }

  /** The chart's box in the scene, or null while it is hidden. */
  box(): THREE.Box3 | null {
    return this.mesh.visible ? new THREE.Box3().setFromObject(this.mesh) : null;
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
    this.nonfinite = bad.length / 3;
    this.hasData = first <= last;
    this.mesh.visible = this.hasData;
    if (!this.hasData) return;
    if (!(lo <= hi)) { lo = 0; hi = 1; } // nothing finite to scale by: an empty axis
    if (last === first) { first -= 1; last += 1; }
    const log = lo > 0 && hi / lo >= LOG_RATIO;
    const f = log ? Math.log10 : (v: number) => v;
    const flo = f(lo), fhi = f(hi);
    const pad = fhi > flo ? 0.05 * (fhi - flo) : Math.max(Math.abs(fhi) * 0.1, 1e-3);
    const y0 = flo - pad, y1 = fhi + pad;
    const x = (s: number) => PLOT.left + ((s - first) / (last - first)) * (PLOT.right - PLOT.left);
    const y = (v: number) => PLOT.bottom - ((f(v) - y0) / (y1 - y0)) * (PLOT.bottom - PLOT.top);

    const ctx = this.ctx;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "rgba(20, 24, 33, 0.9)";
    ctx.strokeStyle = "#2c3342";
    ctx.lineWidth = 4;
    ctx.beginPath();
    ctx.roundRect(2, 2, W - 4, H - 4, 24);
    ctx.fill();
    ctx.stroke();
    // axes
    ctx.strokeStyle = "#4a5470";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(PLOT.left, PLOT.top);
    ctx.lineTo(PLOT.left, PLOT.bottom);
    ctx.lineTo(PLOT.right, PLOT.bottom);
    ctx.stroke();
    ctx.font = "36px Roboto, system-ui, sans-serif";
    ctx.fillStyle = "#9aa4b8";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    ctx.fillText(formatStat(hi), PLOT.left - 12, y(hi));
    ctx.fillText(formatStat(lo), PLOT.left - 12, y(lo));
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(String(first), PLOT.left, PLOT.bottom + 12);
    ctx.textAlign = "right";
    ctx.fillText(String(last), PLOT.right, PLOT.bottom + 12);
    ctx.textAlign = "center";
    ctx.fillText("step", (PLOT.left + PLOT.right) / 2, PLOT.bottom + 12);
    // title and key
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    ctx.font = "bold 42px Roboto, system-ui, sans-serif";
    ctx.fillStyle = "#e3e7ef";
    let title = displayName(this.metric, TITLE_CHARS);
    while (title.length > 2 && ctx.measureText(title).width > TITLE_WIDTH) title = `${title.slice(0, -2)}…`;
    ctx.fillText(title, 28, 40);
    let tx = 40 + ctx.measureText(title).width;
    if (log) {
      ctx.font = "32px Roboto, system-ui, sans-serif";
      ctx.fillStyle = "#9aa4b8";
      ctx.fillText("(log scale)", tx, 42);
      tx += ctx.measureText("(log scale) ").width;
    }
    const newest = this.latest;
    if (newest && !Number.isFinite(newest.value)) {
      ctx.font = "bold 32px Roboto, system-ui, sans-serif";
      ctx.fillStyle = BAD;
      ctx.fillText(`${formatStat(newest.value)} at step ${newest.step}`, tx, 42);
    }
    ctx.font = "32px Roboto, system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.fillStyle = VAL;
    ctx.fillText("● val", W - 40, 40);
    ctx.fillStyle = TRAIN;
    ctx.fillText("— train   ", W - 40 - ctx.measureText("● val").width, 40);
    // train line, validation dots
    ctx.save();
    ctx.beginPath();
    ctx.rect(PLOT.left, PLOT.top - 8, PLOT.right - PLOT.left + 8, PLOT.bottom - PLOT.top + 8);
    ctx.clip();
    ctx.strokeStyle = TRAIN;
    ctx.lineWidth = 3;
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
    ctx.fillStyle = VAL;
    const dot = (s: number, v: number) => { ctx.beginPath(); ctx.arc(x(s), y(v), 6, 0, 2 * Math.PI); ctx.fill(); };
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
      ctx.font = "32px Roboto, system-ui, sans-serif";
      ctx.fillStyle = "#ffffff";
      ctx.textBaseline = "bottom";
      ctx.textAlign = sx > W - 160 ? "right" : "left";
      ctx.fillText(`step ${this.step}`, sx + (ctx.textAlign === "right" ? -8 : 8), PLOT.top + 30);
    }
    this.texture.needsUpdate = true;
  }
}
