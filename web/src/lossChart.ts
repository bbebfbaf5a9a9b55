// The loss chart standing beside the model: one plane with a canvas texture showing the train
// loss as a line and the validation loss as dots over steps, and a marker at the shown step.
// Redrawn only when the history or the shown step change.
import * as THREE from "three";
import type { Frame } from "./codec";
import { VIEW_FROM } from "./navigation";
import { formatStat } from "./ui";

const W = 1024, H = 512;
const PLOT = { left: 184, right: W - 40, top: 78, bottom: H - 78 };
/** A positive metric spanning this ratio or more is drawn on a log axis. */
const LOG_RATIO = 20;
const TRAIN = "#6fa8ff", VAL = "#f2a65a";
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
    const n = steps?.length ?? 0;
    const want = names.indexOf(this.wanted) >= 0 ? this.wanted : METRIC;
    const col = names.indexOf(want) >= 0 ? names.indexOf(want) : 0;
    this.extra.length = 0;
    this.lastStep[0] = this.lastStep[1] = -Infinity;
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
    for (let i = 0; i < n; i++) {
      this.values[i] = values[i * k + col];
      const s = split[i] ? 1 : 0;
      if (Number.isFinite(this.values[i])) this.lastStep[s] = Math.max(this.lastStep[s], steps[i]);
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

  /** A live probe frame's scalars, kept until the next history arrives. */
  addLive(step: number, split: string, scalars: Record<string, number> | undefined): void {
    const v = scalars?.[this.metric];
    const s = split === "val" ? 1 : 0;
    if (typeof v !== "number" || !Number.isFinite(v) || step <= this.lastStep[s]) return;
    this.extra.push(step, s, v);
    this.lastStep[s] = step;
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
    const { steps, values, extra } = this;
    for (let i = 0; i < steps.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (steps[i] < first) first = steps[i];
      if (steps[i] > last) last = steps[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    for (let i = 0; i < extra.length; i += 3) {
      first = Math.min(first, extra[i]); last = Math.max(last, extra[i]);
      lo = Math.min(lo, extra[i + 2]); hi = Math.max(hi, extra[i + 2]);
    }
    this.hasData = lo <= hi;
    this.mesh.visible = this.hasData;
    if (!this.hasData) return;
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
    ctx.fillText(this.metric, 28, 40);
    if (log) {
      const tw = ctx.measureText(this.metric).width;
      ctx.font = "32px Roboto, system-ui, sans-serif";
      ctx.fillStyle = "#9aa4b8";
      ctx.fillText("(log scale)", 40 + tw, 42);
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
    const trace = (s: number, v: number) => {
      if (pen) ctx.lineTo(x(s), y(v));
      else { ctx.moveTo(x(s), y(v)); pen = true; }
    };
    for (let i = 0; i < steps.length; i++) if (!this.split[i] && Number.isFinite(values[i])) trace(steps[i], values[i]);
    for (let i = 0; i < extra.length; i += 3) if (!extra[i + 1]) trace(extra[i], extra[i + 2]);
    ctx.stroke();
    ctx.fillStyle = VAL;
    const dot = (s: number, v: number) => { ctx.beginPath(); ctx.arc(x(s), y(v), 6, 0, 2 * Math.PI); ctx.fill(); };
    for (let i = 0; i < steps.length; i++) if (this.split[i] && Number.isFinite(values[i])) dot(steps[i], values[i]);
    for (let i = 0; i < extra.length; i += 3) if (extra[i + 1]) dot(extra[i], extra[i + 2]);
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
