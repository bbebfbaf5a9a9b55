// Gradient flow: particles travel backwards along the edges (from a layer to its inputs), as
// the gradient does. Their number and speed grow with the gradient norm of the layer they
// leave (log scale, relative to the median layer); exploding ones (and NaN/Inf) send many large
// red particles. Layers whose gradients vanish (far below the median, zero, or with a
// "vanishing" health alarm) keep a style of their own, so a dying network never looks empty:
// a few slow, pulsing blue particles on a dashed band, and a "vanishing ∇" label at the layer.
// Five draw calls plus one per label (at most MAX_LABELS); nothing is allocated per frame.
import * as THREE from "three";
import type { ProbeState } from "./probeState";
import { STAT } from "./probeState";
import type { SceneView } from "./sceneView";

export type FlowClass = "vanishing" | "normal" | "exploding";
const CLASSES: FlowClass[] = ["vanishing", "normal", "exploding"];
const STYLE: Record<FlowClass, { color: number; size: number }> = {
  vanishing: { color: 0x4a78ff, size: 0.07 },
  normal: { color: 0xe8f4ff, size: 0.08 },
  exploding: { color: 0xff4a2a, size: 0.15 },
};
const POOL = 3000;
/** Labels drawn at most (one per vanishing layer). */
const MAX_LABELS = 32;
const LABEL_TEXT = "vanishing ∇";

function labelMaterial(): THREE.SpriteMaterial {
  const c = document.createElement("canvas");
  c.width = 256; c.height = 64;
  const g = c.getContext("2d")!;
  g.fillStyle = "rgba(16, 24, 48, 0.85)";
  g.strokeStyle = "#4a78ff";
  g.lineWidth = 4;
  g.beginPath(); g.roundRect(4, 4, 248, 56, 14); g.fill(); g.stroke();
  g.fillStyle = "#b9ccff";
  g.font = "bold 30px sans-serif"; g.textAlign = "center"; g.textBaseline = "middle";
  g.fillText(LABEL_TEXT, 128, 34);
  const tex = new THREE.CanvasTexture(c);
  tex.colorSpace = THREE.SRGBColorSpace;
  return new THREE.SpriteMaterial({ map: tex, transparent: true, depthWrite: false, depthTest: false });
}
/** Below this fraction of the median layer's gradient norm a layer counts as vanishing. */
export const VANISHING_RATIO = 1e-3;
/** Above this multiple of the median it counts as exploding. */
export const EXPLODING_RATIO = 1e2;

interface EdgeFlow { line: Float32Array; cum: Float32Array; length: number; speed: number; cls: FlowClass; count: number; module: string; }

export class GradientFlow {
  readonly root = new THREE.Group();
  enabled = false;
  private flows: EdgeFlow[] = [];
  private readonly sets = new Map<FlowClass, { points: THREE.Points; pos: Float32Array; edge: Int32Array; u: Float32Array; n: number }>();
  /** Per class: how many particles are moving now. */
  counts: Record<FlowClass, number> = { vanishing: 0, normal: 0, exploding: 0 };
  /** The class of each layer (dotted module path) at the last update. */
  classes = new Map<string, FlowClass>();
  /** The dashed band under the vanishing edges, and the labels of the vanishing layers. */
  private readonly band: THREE.LineSegments;
  private readonly labels = new THREE.Group();
  private readonly labelMat = labelMaterial();
  private clock = 0;

  constructor() {
    this.root.name = "gradient-flow";
    this.root.visible = false;
    for (const cls of CLASSES) {
      const pos = new Float32Array(POOL * 3);
      const geo = new THREE.BufferGeometry();
      geo.setAttribute("position", new THREE.BufferAttribute(pos, 3));
      geo.setDrawRange(0, 0);
      const points = new THREE.Points(geo, new THREE.PointsMaterial({
        color: STYLE[cls].color, size: STYLE[cls].size, transparent: true, opacity: 0.9, depthWrite: false,
      }));
      points.frustumCulled = false;
      points.name = `flow-${cls}`;
      this.root.add(points);
      this.sets.set(cls, { points, pos, edge: new Int32Array(POOL), u: new Float32Array(POOL), n: 0 });
    }
    this.band = new THREE.LineSegments(new THREE.BufferGeometry(), new THREE.LineDashedMaterial({
      color: STYLE.vanishing.color, dashSize: 0.12, gapSize: 0.09, transparent: true, opacity: 0.7, depthWrite: false,
    }));
    this.band.name = "flow-vanishing-band";
    this.band.frustumCulled = false;
    this.labels.name = "flow-vanishing-labels";
    this.root.add(this.band, this.labels);
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    this.root.visible = on;
  }

  /** Recompute every edge's particles from the gradient norms (and NaN/Inf) at the shown step;
   * ``exploding`` and ``vanishing``: modules with such a health alarm at that step. */
  update(view: SceneView, probe: ProbeState, exploding: Set<string>, vanishing: Set<string> = new Set()): void {
    const moduleOf = new Map(view.blocks.map((b) => [b.path, b.module]));
    const own = new Map<string, number>();
    const norms: number[] = [];
    for (const b of view.blocks) {
      const g = probe.stat("grad", b.module, STAT.norm);
      const bad = probe.stat("grad", b.module, STAT.nan) > 0 || probe.stat("grad", b.module, STAT.inf) > 0;
      if (bad || g === Infinity) own.set(b.path, Infinity); // an overflowing norm explodes too
      // the median is of the layers that learn: a network mostly vanishing must not make its
      // healthy layers look exploding
      else if (Number.isFinite(g)) { own.set(b.path, g); if (!vanishing.has(b.module)) norms.push(g); }
    }
    // a layer without parameters passes on the gradient it receives: the largest of its
    // successors' (walk the graph from the outputs back)
    const succ = new Map<string, string[]>();
    for (const e of view.edges) succ.set(e.src, [...(succ.get(e.src) ?? []), e.dst]);
    const memo = new Map<string, number>();
    const value = (path: string, depth = 0): number => {
      if (own.has(path)) return own.get(path)!;
      if (memo.has(path)) return memo.get(path)!;
      memo.set(path, NaN); // cycles (never in a DAG) end here
      let v = NaN;
      if (depth < 512) for (const d of succ.get(path) ?? []) { const x = value(d, depth + 1); if (!(x <= v)) v = x; }
      memo.set(path, v);
      return v;
    };
    norms.sort((a, b) => a - b);
    const median = norms.length ? norms[Math.floor(norms.length / 2)] : NaN;
    this.flows = [];
    this.classes.clear();
    for (const e of view.edges) {
      const g = value(e.dst);
      const module = moduleOf.get(e.dst) ?? "";
      const alarmed = vanishing.has(module);
      if (Number.isNaN(g) && !alarmed) continue; // no gradient known here
      // all-zero gradients leave no median to compare with: every layer with data vanishes
      const ratio = median > 0 ? g / median : g === Infinity ? Infinity : 0;
      const cls: FlowClass = g === Infinity || ratio > EXPLODING_RATIO || exploding.has(module) ? "exploding"
        : alarmed || !(g > 0) || ratio < VANISHING_RATIO ? "vanishing" : "normal";
      this.classes.set(module, cls);
      const r = Math.max(-3, Math.min(3, Number.isFinite(ratio) ? Math.log10(Math.max(ratio, 1e-30)) : 3));
      const d = cls === "vanishing" ? 0 : (r + 3) / 6; // 0 (1000x below the median) .. 1 (1000x above)
      const line = this.reversed(e.line);
      const cum = new Float32Array(line.length / 3);
      for (let i = 1; i < cum.length; i++) {
        cum[i] = cum[i - 1] + Math.hypot(line[3 * i] - line[3 * i - 3], line[3 * i + 1] - line[3 * i - 2], line[3 * i + 2] - line[3 * i - 1]);
      }
      const length = cum[cum.length - 1] || 1e-6;
      // a vanishing edge still shows: a few slow particles (at least two) on its dashed band
      const count = cls === "vanishing" ? Math.max(2, Math.round(1.5 * Math.min(4, length)))
        : Math.max(1, Math.round((1 + 10 * d * d) * Math.min(4, length)));
      this.flows.push({ line, cum, length, cls, module, speed: cls === "vanishing" ? 0.15 : 0.25 + 1.6 * d, count });
    }
    this.assign();
    // labels name the layers whose own gradient vanishes (not those that only pass it on)
    const ownGradient = new Set([...vanishing, ...view.blocks.filter((b) => own.has(b.path)).map((b) => b.module)]);
    this.markVanishing(ownGradient);
  }

  /** The dashed band along every vanishing edge, and one label per vanishing layer. */
  private markVanishing(withGradient: Set<string>): void {
    const segs: number[] = [];
    for (const f of this.flows) {
      if (f.cls !== "vanishing") continue;
      for (let i = 0; i + 1 < f.line.length / 3; i++) segs.push(...f.line.subarray(3 * i, 3 * i + 6));
    }
    const geo = this.band.geometry;
    geo.setAttribute("position", new THREE.Float32BufferAttribute(segs, 3));
    this.band.computeLineDistances();
    geo.computeBoundingSphere();
    this.band.visible = segs.length > 0;
    this.labels.clear();
    // one label per vanishing layer, above the middle of the first edge its gradient leaves by
    // (between the blocks: the block names stand above the blocks themselves)
    const labelled = new Set<string>();
    for (const f of this.flows) {
      if (f.cls !== "vanishing" || !withGradient.has(f.module) || labelled.has(f.module) || labelled.size >= MAX_LABELS) continue;
      labelled.add(f.module);
      const half = f.length / 2;
      let k = 1;
      while (k < f.cum.length - 1 && f.cum[k] < half) k++;
      const a = f.cum[k - 1], b = f.cum[k], t = b > a ? (half - a) / (b - a) : 0;
      const p = new THREE.Vector3().fromArray(f.line, 3 * (k - 1)).lerp(new THREE.Vector3().fromArray(f.line, 3 * k), t);
      const sprite = new THREE.Sprite(this.labelMat);
      sprite.position.set(p.x, p.y + 0.22, p.z);
      sprite.scale.set(0.8, 0.2, 1);
      sprite.name = `vanishing:${f.module}`;
      sprite.renderOrder = 3;
      sprite.userData.module = f.module;
      this.labels.add(sprite);
    }
  }

  /** What marks the vanishing layers: their modules, particles, dashed segments and labels. */
  vanishingStyle(): { layers: string[]; particles: number; dashed: number; labels: string[]; labelPoints: number[][]; labelText: string; color: string; visible: boolean } {
    const layers = [...this.classes].filter(([, c]) => c === "vanishing").map(([m]) => m);
    const dashed = this.band.visible ? (this.band.geometry.getAttribute("position")?.count ?? 0) / 2 : 0;
    return { layers, particles: this.counts.vanishing, dashed, labelText: LABEL_TEXT,
      labels: this.labels.children.map((c) => String(c.userData.module)),
      labelPoints: this.labels.children.map((c) => c.position.toArray()),
      color: `#${STYLE.vanishing.color.toString(16).padStart(6, "0")}`,
      visible: this.root.visible && (this.counts.vanishing > 0 || dashed > 0) };
  }


  private reversed(line: Float32Array): Float32Array {
    const n = line.length / 3, out = new Float32Array(line.length);
    for (let i = 0; i < n; i++) out.set(line.subarray(3 * (n - 1 - i), 3 * (n - i)), 3 * i);
    return out;
  }

  private assign(): void {
    for (const cls of CLASSES) { this.sets.get(cls)!.n = 0; this.counts[cls] = 0; }
    this.flows.forEach((f, e) => {
      const set = this.sets.get(f.cls)!;
      for (let k = 0; k < f.count && set.n < POOL; k++) {
        set.edge[set.n] = e;
        set.u[set.n] = k / f.count; // evenly spaced along the edge
        set.n++;
      }
    });
    for (const cls of CLASSES) {
      const set = this.sets.get(cls)!;
      this.counts[cls] = set.n;
      set.points.geometry.setDrawRange(0, set.n);
    }
    this.tick(0);
  }

  /** Where the first particle of a class is now (for tests), or null. */
  firstPosition(cls: FlowClass): number[] | null {
    const set = this.sets.get(cls)!;
    return set.n ? Array.from(set.pos.subarray(0, 3)) : null;
  }

  /** Move every particle ``dt`` seconds along; returns true when something is moving. */
  tick(dt: number): boolean {
    if (!this.enabled && dt > 0) return false;
    let moving = false;
    // the vanishing particles pulse, so a sparse flow still catches the eye
    this.clock += dt;
    const pulse = 0.55 + 0.4 * Math.sin(this.clock * 4);
    (this.sets.get("vanishing")!.points.material as THREE.PointsMaterial).opacity = pulse;
    for (const set of this.sets.values()) {
      for (let i = 0; i < set.n; i++) {
        const f = this.flows[set.edge[i]];
        let u = set.u[i] + (f.speed * dt) / f.length;
        u -= Math.floor(u);
        set.u[i] = u;
        const s = u * f.length;
        let k = 1;
        while (k < f.cum.length - 1 && f.cum[k] < s) k++;
        const a = f.cum[k - 1], b = f.cum[k];
        const t = b > a ? (s - a) / (b - a) : 0;
        for (let c = 0; c < 3; c++) set.pos[3 * i + c] = f.line[3 * (k - 1) + c] + (f.line[3 * k + c] - f.line[3 * (k - 1) + c]) * t;
      }
      if (set.n) { (set.points.geometry.getAttribute("position") as THREE.BufferAttribute).needsUpdate = true; moving = true; }
    }
    return moving;
  }
}
