// The data overlays beside the blocks: weight maps and bias bars of every layer (channel
// "weights"), histogram ridges and the PCA scatter of the selected layer (channel "detail"),
// one input's activations, feature visualisations, the loss landscape, and (embeddingClouds.ts)
// the embedding clouds. Hovering any cell, bar, ridge bin or point reports the exact value the
// server sent.
import * as THREE from "three";
import type { Frame } from "./codec";
import { EmbeddingClouds } from "./embeddingClouds";
import { type OverlayHit, type OverlayInfo, parse } from "./overlayFrame";
import {
  BarsBatch, finite, frameBox, gridCell, gridMesh, pointsMesh, ridgeMesh, slabCell, slabsMesh, surfaceMesh,
} from "./overlayMeshes";
import { type SceneView, scenePathOf } from "./sceneView";
import { displayName, formatStat } from "./dom";

/** Floor carpet after a block along +z: its start and depth (the layout's layer gap is 0.8). */
const CARPET_START = 0.08, CARPET_DEPTH = 0.48, BARS_START = 0.6, BARS_DEPTH = 0.1;
/** Relief is gentle next to the cell size, so a raised cell never hides its neighbours. */
const RELIEF_MAX = 0.05, RELIEF_PER_CELL = 0.6, BAR_HEIGHT = 0.12;
const PANEL = 1.2, PANEL_GAP = 0.35, DETAIL_LIFT = 2.2;
/** Activations float this far above their block (clear of its label), as a ghost of it. */
const INSPECT_LIFT = 0.45;
const FEATURE_SIZE = 0.5, MAX_FEATURES = 8;
const LANDSCAPE_SIZE = 3, LANDSCAPE_HEIGHT = 1.4;

export class Overlays {
  readonly root = new THREE.Group();
  private readonly weights = new THREE.Group();
  private readonly detail = new THREE.Group();
  private readonly inspect = new THREE.Group();
  inspectList: OverlayInfo[] = [];
  inspectInfo: Record<string, any> | null = null;
  private readonly features = new THREE.Group();
  /** Feature visualisations shown, newest last (at most MAX_FEATURES). */
  featureList: OverlayInfo[] = [];
  private readonly landscape = new THREE.Group();
  /** Per-layer embedding point clouds (embeddingClouds.ts). */
  readonly clouds: EmbeddingClouds;
  landscapeInfo: OverlayInfo | null = null;
  /** Where the landscape stands (its near corner on the floor); set by the viewer. */
  landscapeAt = new THREE.Vector3();
  weightList: OverlayInfo[] = [];
  detailList: OverlayInfo[] = [];
  weightStep: number | null = null;
  detailModule: string | null = null;
  /** Meshes that can be hovered, with the overlay each shows. */
  private readonly targets = new Map<THREE.Object3D, OverlayInfo>();
  private barOwner: { overlay: OverlayInfo; index: number }[] = [];
  private bars: BarsBatch | null = null;
  /** Grid meshes by "module|name", for tests and for the legend. */
  readonly gridMeshes = new Map<string, THREE.Mesh>();
  hidden = 0;

  constructor(private view: SceneView) {
    this.weights.name = "weight-overlays";
    this.detail.name = "detail-overlays";
    this.inspect.name = "inspect-overlays";
    this.features.name = "feature-overlays";
    this.landscape.name = "landscape";
    this.clouds = new EmbeddingClouds((m) => this.anchor(m), this.targets);
    this.root.add(this.weights, this.detail, this.inspect, this.features, this.landscape, this.clouds.root);
  }

  get showWeights(): boolean { return this.weights.visible; }
  set showWeights(on: boolean) { this.weights.visible = on; }

  /** Replace the weight maps and bias bars with a ``weights`` frame. */
  setWeights(frame: Frame): void {
    this.weightList = parse(frame);
    this.weightStep = frame.header.step;
    this.placeWeights();
  }

  /** Re-anchor everything after the scene changed (expand/collapse). */
  relayout(): void {
    this.placeWeights();
    this.placeDetail();
    this.placeInspect();
    this.placeFeatures();
    this.placeLandscape();
    this.clouds.relayout();
  }

  /** Add one unit's feature visualisation (a ``feature`` frame); it replaces the same unit's. */
  addFeature(frame: Frame): void {
    const [o] = parse(frame);
    if (!o) return;
    this.featureList = [...this.featureList.filter((f) => !(f.module === o.module && f.name === o.name)), o]
      .slice(-MAX_FEATURES);
    this.placeFeatures();
  }

  private placeFeatures(): void {
    this.clear(this.features);
    const perModule = new Map<string, number>();
    for (const o of this.featureList) {
      const a = this.anchor(o.module);
      if (!a) continue;
      const k = perModule.get(o.module) ?? 0;
      perModule.set(o.module, k + 1);
      const [c, h, w] = o.shape;
      const mesh = slabsMesh(c, h, w, o.arrays.colors as Uint8Array, FEATURE_SIZE, FEATURE_SIZE, 0);
      mesh.position.set(a.x + a.sx / 2 + 0.12 + FEATURE_SIZE / 2 + k * (FEATURE_SIZE + 0.06), a.sy + INSPECT_LIFT + a.sy / 2, a.z);
      mesh.name = `feature:${o.module}|${o.name}`;
      this.features.add(mesh);
      this.targets.set(mesh, o);
    }
  }

  /** Show the loss surface (a ``landscape`` frame) at ``landscapeAt``. */
  setLandscape(frame: Frame): void {
    this.landscapeInfo = parse(frame)[0] ?? null;
    this.placeLandscape();
  }

  private placeLandscape(): void {
    this.clear(this.landscape);
    const o = this.landscapeInfo;
    if (!o) return;
    const [rows, cols] = o.shape;
    const surface = surfaceMesh(rows, cols, o.arrays.heights, o.arrays.colors as Uint8Array, LANDSCAPE_SIZE, LANDSCAPE_HEIGHT);
    surface.name = "landscape-surface";
    this.targets.set(surface, o);
    const group = new THREE.Group();
    group.add(surface, frameBox(LANDSCAPE_SIZE, LANDSCAPE_HEIGHT, LANDSCAPE_SIZE).translateY(LANDSCAPE_HEIGHT / 2));
    // the current weights (the centre) and the projected training path, on the surface
    const al = o.arrays.alphas;
    const span = finite(Math.max(Math.abs(al[0]), Math.abs(al[al.length - 1]))) || 1;
    const toX = (alpha: number) => (finite(alpha) / span) * (LANDSCAPE_SIZE / 2);
    const lo = finite(Number(o.meta.min)), cap = finite(Number(o.meta.cap));
    // a NaN/Inf loss stands at the top, as the surface's NaN cells do
    const toY = (loss: number) => (Number.isFinite(loss) ? Math.min(Math.max(loss, lo), cap) - lo : cap - lo)
      / (cap - lo || 1) * LANDSCAPE_HEIGHT + 0.03;
    const here = new THREE.Mesh(new THREE.SphereGeometry(0.07, 12, 8), new THREE.MeshBasicMaterial({ color: 0xff3b4e }));
    here.position.set(0, toY(Number(o.meta.center_loss)), 0);
    here.name = "landscape-here";
    group.add(here);
    const path = o.arrays.path, pl = o.arrays.path_losses;
    if (path && pl) {
      const pts: number[] = [];
      for (let i = 0; i < pl.length; i++) pts.push(toX(path[2 * i]), toY(pl[i]), toX(path[2 * i + 1])); // betas share the alphas' span
      const geo = new THREE.BufferGeometry();
      geo.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
      const line = new THREE.Line(geo, new THREE.LineBasicMaterial({ color: 0xffffff }));
      line.name = "landscape-path";
      group.add(line);
    }
    group.position.copy(this.landscapeAt);
    this.landscape.add(group);
  }

  /** Every layer's output for one input (an ``inspect`` frame), floating above each block. */
  setInspect(frame: Frame): void {
    const { overlays: _o, arrays: _a, type: _t, ...info } = frame.header;
    this.inspectInfo = info;
    this.inspectList = parse(frame);
    this.placeInspect();
  }

  clearInspect(): void {
    this.inspectInfo = null;
    this.inspectList = [];
    this.clear(this.inspect);
  }

  private placeInspect(): void {
    this.clear(this.inspect);
    for (const o of this.inspectList) {
      // attention weights sit on the attention op's own block when the module is expanded
      const a = (o.name === "attention" ? this.anchor(`${o.module}.scaled_dot_product_attention`) : null)
        ?? this.anchor(o.module);
      if (!a) continue;
      const y = a.sy + INSPECT_LIFT + a.sy / 2;
      const overlay = o.name === "saliency";
      let mesh: THREE.Mesh;
      if (o.kind === "slabs") {
        const [c, h, w] = o.shape;
        mesh = slabsMesh(c, h, w, o.arrays.colors as Uint8Array, a.sx, a.sy, Math.max(a.sz, 0.02 * c));
      } else if (o.kind === "grid") {
        const [rows, cols] = o.shape;
        const height = overlay ? a.sy : Math.min(a.sy * 1.5, Math.max(0.08, (a.sx * rows) / cols));
        mesh = slabsMesh(1, rows, cols, o.arrays.colors as Uint8Array, a.sx, height, 0, overlay ? 0.72 : 1);
      } else continue;
      // a saliency map lies just in front of the stack it explains
      mesh.position.set(a.x, y, overlay ? a.z - Math.max(a.sz, 0.02 * (this.channelsOf(o.module) ?? 1)) / 2 - 0.02 : a.z);
      mesh.name = `inspect:${o.module}|${o.name}`;
      mesh.renderOrder = overlay ? 3 : 0;
      this.inspect.add(mesh);
      this.targets.set(mesh, o);
    }
  }

  private channelsOf(module: string): number | undefined {
    const s = this.inspectList.find((o) => o.module === module && o.kind === "slabs");
    return s?.shape[0];
  }

  private anchor(module: string): { x: number; z: number; sx: number; sz: number; sy: number } | null {
    const pick = this.view.pathIndex.get(scenePathOf(module));
    if (!pick || pick.kind !== "block") return null;
    const i = pick.index, p = this.view.blockPositions, s = this.view.blockScales;
    return { x: p[3 * i], z: p[3 * i + 2], sx: s[3 * i], sy: s[3 * i + 1], sz: s[3 * i + 2] };
  }

  private clear(group: THREE.Group): void {
    for (const child of [...group.children]) {
      group.remove(child);
      child.traverse((o) => {
        this.targets.delete(o);
        const m = o as THREE.Mesh;
        m.geometry?.dispose();
        const mat = m.material as THREE.MeshBasicMaterial | undefined;
        mat?.map?.dispose();
        mat?.dispose?.();
      });
    }
  }

  private placeWeights(): void {
    this.clear(this.weights);
    this.gridMeshes.clear();
    this.barOwner = [];
    this.hidden = 0;
    const barCount = this.weightList.filter((o) => o.kind === "bars").reduce((n, o) => n + o.arrays.values.length, 0);
    this.bars = barCount ? new BarsBatch(barCount) : null;
    for (const o of this.weightList) {
      const a = this.anchor(o.module);
      if (!a) { this.hidden++; continue; }
      const width = Math.max(a.sx, 0.5);
      const edge = a.z + a.sz / 2;
      if (o.kind === "grid") {
        const [rows, cols] = o.shape;
        const relief = Math.min(RELIEF_MAX, RELIEF_PER_CELL * Math.min(width / cols, CARPET_DEPTH / rows));
        const mesh = gridMesh(rows, cols, o.arrays.colors as Uint8Array, o.arrays.heights, width, CARPET_DEPTH, relief);
        mesh.position.set(a.x, 0, edge + CARPET_START + CARPET_DEPTH / 2);
        mesh.name = `weight:${o.module}|${o.name}`;
        this.weights.add(mesh);
        this.targets.set(mesh, o);
        this.gridMeshes.set(`${o.module}|${o.name}`, mesh);
      } else if (o.kind === "bars" && this.bars) {
        const n = o.arrays.values.length;
        const w = width / n;
        for (let k = 0; k < n; k++) {
          const h = Math.max(0.004, Math.abs(o.arrays.heights[k]) * BAR_HEIGHT);
          this.bars.add(a.x - width / 2 + (k + 0.5) * w, edge + BARS_START + BARS_DEPTH / 2, w * 0.8, BARS_DEPTH, h,
            o.arrays.colors as Uint8Array, 3 * k);
          this.barOwner.push({ overlay: o, index: k });
        }
      }
    }
    if (this.bars) {
      this.bars.finish();
      this.bars.mesh.name = "bias-bars";
      this.weights.add(this.bars.mesh);
    }
  }

  /** Show the ridges and scatter of one module (a ``detail`` frame), beside its block. */
  setDetail(frame: Frame): void {
    this.detailModule = frame.header.module ?? null;
    this.detailList = parse(frame);
    this.placeDetail();
  }

  clearDetail(): void {
    this.detailModule = null;
    this.detailList = [];
    this.clear(this.detail);
  }

  private placeDetail(): void {
    this.clear(this.detail);
    if (!this.detailModule) return;
    const a = this.anchor(this.detailModule);
    if (!a) return;
    // a row of panels along the forward axis, floating above the block and its label; each
    // ridge turned so its bins run along the row and its steps towards a side-on viewer
    const n = this.detailList.filter((o) => o.kind === "ridge" || o.kind === "points").length;
    let z = a.z - ((n - 1) * (PANEL + PANEL_GAP)) / 2;
    const base = 2 * a.sy + DETAIL_LIFT;
    for (const o of this.detailList) {
      const panel = new THREE.Group();
      if (o.kind === "ridge") {
        const [rows, bins] = o.shape;
        const ridge = ridgeMesh(o.arrays.heights, o.arrays.colors as Uint8Array, rows, bins, PANEL, PANEL, 0.7);
        this.targets.set(ridge.children[0], o);
        panel.add(ridge);
        const box = frameBox(PANEL, 0.72, PANEL);
        box.position.y = 0.36;
        panel.add(box);
        panel.position.set(a.x, base, z);
        panel.rotation.y = Math.PI / 2;
      } else if (o.kind === "points") {
        const pts = pointsMesh(o.arrays.positions, o.arrays.colors as Uint8Array, PANEL * 0.9);
        this.targets.set(pts, o);
        panel.add(pts, frameBox(PANEL, PANEL, PANEL));
        panel.position.set(a.x, base + PANEL / 2, z);
      } else continue;
      panel.name = `detail:${o.name}`;
      this.detail.add(panel);
      z += PANEL + PANEL_GAP;
    }
  }

  /** What the ray points at, with its exact value. */
  pick(raycaster: THREE.Raycaster): OverlayHit | null {
    raycaster.params.Points = { threshold: 0.04 };
    const objects = [...this.targets.keys()].filter((o) => this.visible(o));
    if (this.bars && this.weights.visible) objects.push(this.bars.mesh);
    const hit = raycaster.intersectObjects(objects, false)[0];
    if (!hit) return null;
    if (this.bars && hit.object === this.bars.mesh && hit.instanceId !== undefined) {
      const { overlay, index } = this.barOwner[hit.instanceId];
      return this.describe(overlay, [index]);
    }
    const o = this.targets.get(hit.object);
    if (!o) return null;
    if (o.kind === "grid" && hit.uv && this.gridMeshes.get(`${o.module}|${o.name}`) === hit.object) {
      return this.describe(o, gridCell(hit.uv, o.shape[0], o.shape[1]));
    }
    if (o.kind === "ridge" && hit.faceIndex !== undefined && hit.faceIndex !== null) {
      const q = Math.floor(hit.faceIndex / 2);
      return this.describe(o, [Math.floor(q / o.shape[1]), q % o.shape[1]]);
    }
    if (o.kind === "points" && hit.index !== undefined) return this.describe(o, [hit.index]);
    if (o.kind === "surface" && hit.face) {
      // the nearest grid vertex of the face hit
      const ids = [hit.face.a, hit.face.b, hit.face.c];
      const geo = (hit.object as THREE.Mesh).geometry;
      const p = geo.getAttribute("position") as THREE.BufferAttribute;
      const local = (hit.object as THREE.Mesh).worldToLocal(hit.point.clone());
      let best = ids[0], bestD = Infinity;
      for (const id of ids) {
        const d = (p.getX(id) - local.x) ** 2 + (p.getZ(id) - local.z) ** 2;
        if (d < bestD) { bestD = d; best = id; }
      }
      return this.describe(o, [Math.floor(best / o.shape[1]), best % o.shape[1]]);
    }
    if (o.kind === "slabs" && hit.uv && hit.faceIndex !== undefined && hit.faceIndex !== null) {
      return this.describe(o, slabCell(hit.faceIndex, hit.uv, o.shape[0], o.shape[1], o.shape[2]));
    }
    if (o.kind === "grid" && hit.uv) {
      return this.describe(o, slabCell(0, hit.uv, 1, o.shape[0], o.shape[1]).slice(1));
    }
    return null;
  }

  private visible(o: THREE.Object3D): boolean {
    for (let p: THREE.Object3D | null = o; p; p = p.parent) if (!p.visible) return false;
    return true;
  }

  /** The value of one cell/bar/bin/point and a sentence saying what it stands for. */
  describe(o: OverlayInfo, index: number[]): OverlayHit {
    const m = o.meta;
    const label = `${displayName(o.module || "(model)", 120)} ${displayName(o.name, 40)}`;
    if (o.kind === "surface") {
      const [r, c] = index;
      const v = o.arrays.values[r * o.shape[1] + c];
      return { overlay: o, index, value: v, text: `loss ${formatStat(v)} at alpha ${formatStat(o.arrays.alphas[c])}, beta ${formatStat(o.arrays.betas[r])}${r === (o.shape[0] - 1) / 2 && c === (o.shape[1] - 1) / 2 ? " (current weights)" : ""}` };
    }
    if (o.kind === "slabs") {
      const [k, r, c] = index;
      const v = o.arrays.values[(k * o.shape[1] + r) * o.shape[2] + c];
      const where = o.meta.axes ? `${o.meta.axes[0]} ${k}, ${o.meta.axes[1]} ${r}, ${o.meta.axes[2]} ${c}` : `channel ${k} [${r}, ${c}]`;
      return { overlay: o, index, value: v, text: `${label} · ${where} = ${formatStat(v)}` };
    }
    if (o.kind === "grid" && o.name !== "weight" && o.name !== "bias") {
      const [r, c] = index;
      const v = o.arrays.values[r * o.shape[1] + c];
      return { overlay: o, index, value: v, text: `${label} [${r}, ${c}] = ${formatStat(v)}${Number.isNaN(v) ? " (padding)" : ""}` };
    }
    if (o.kind === "grid") {
      const [r, c] = index;
      const v = o.arrays.values[r * o.shape[1] + c];
      let where = `[${r}, ${c}]`;
      if (m.layout === "tiles") {
        const [kh, kw] = m.kernel;
        if (r % (kh + 1) === kh || c % (kw + 1) === kw) return { overlay: o, index, value: NaN, text: `${label}: gap between kernels` };
        where = `[out ${Math.floor(r / (kh + 1))}, in ${Math.floor(c / (kw + 1))}, ${r % (kh + 1)}, ${c % (kw + 1)}]`;
      } else if (!String(m.method).startsWith("none")) {
        const fr = m.full_shape[0], fc = m.full_shape.slice(1).reduce((x: number, y: number) => x * y, 1);
        where = `rows ${Math.floor((r * fr) / o.shape[0])}–${Math.ceil(((r + 1) * fr) / o.shape[0]) - 1}, cols ${Math.floor((c * fc) / o.shape[1])}–${Math.ceil(((c + 1) * fc) / o.shape[1]) - 1} (mean)`;
      }
      return { overlay: o, index, value: v, text: `${label}${where} = ${formatStat(v)} (${m.dtype})` };
    }
    if (o.kind === "bars") {
      const v = o.arrays.values[index[0]];
      const pooled = String(m.method).startsWith("none") ? "" : " (mean of a run)";
      return { overlay: o, index, value: v, text: `${label}[${index[0]}] = ${formatStat(v)}${pooled} (${m.dtype})` };
    }
    if (o.kind === "ridge") {
      const [t, b] = index;
      const bins = o.shape[1];
      const v = o.arrays.values[t * bins + b];
      const e = o.arrays.edges;
      const step = o.arrays.steps[t];
      return { overlay: o, index, value: v, text: `${label} · step ${step} · [${formatStat(e[b])}, ${formatStat(e[b + 1])}) · ${formatStat(v)} values` };
    }
    const v = o.arrays.values[index[0]];
    if (o.name === "embedding") {
      const what = o.meta.labelled ? `label ${v}` : "";
      return { overlay: o, index, value: v, text: `${displayName(o.module, 120)} embedding (${displayName(o.meta.method, 20)}, step ${o.meta.step}) · input ${index[0]}${what ? ` · ${what}` : ""} · click: show this input` };
    }
    return { overlay: o, index, value: v, text: `${label} · unit ${index[0]} · norm ${formatStat(v)}` };
  }

  /** Where a grid cell's centre is on the relief surface (scene coordinates). */
  cellPosition(module: string, name: string, row: number, col: number): THREE.Vector3 | null {
    const mesh = this.gridMeshes.get(`${module}|${name}`);
    const o = mesh ? this.targets.get(mesh) : undefined;
    if (!mesh || !o) return null;
    const p = (mesh.geometry as THREE.PlaneGeometry).parameters;
    const [rows, cols] = o.shape;
    const at = new THREE.Vector3(-p.width / 2 + ((col + 0.5) / cols) * p.width, 0,
      -p.height / 2 + ((row + 0.5) / rows) * p.height).add(mesh.position);
    mesh.updateMatrixWorld();
    const down = new THREE.Raycaster(at.clone().setY(10), new THREE.Vector3(0, -1, 0));
    const hit = down.intersectObject(mesh, false)[0];
    return hit ? hit.point : at;
  }

  count(): number {
    return this.weightList.length + this.detailList.length + this.inspectList.length
      + this.featureList.length + (this.landscapeInfo ? 1 : 0) + this.clouds.embedList.size;
  }

  /** The unit a hit on an activation overlay stands for (for feature visualisation), or null. */
  unitOf(hit: OverlayHit): { module: string; unit: number } | null {
    const o = hit.overlay;
    if (o.name !== "activation") return null;
    if (o.kind === "slabs") return { module: o.module, unit: hit.index[0] };
    if (o.kind === "grid" && String(o.meta.method).includes("units laid out")) {
      const unit = hit.index[0] * o.shape[1] + hit.index[1];
      return unit < o.meta.full_shape.reduce((a: number, b: number) => a * b, 1) ? { module: o.module, unit } : null;
    }
    return null;
  }

  /** Where the landscape's grid point (row, col) is in the scene, or null. */
  landscapePoint(row: number, col: number): THREE.Vector3 | null {
    const mesh = this.landscape.getObjectByName("landscape-surface") as THREE.Mesh | undefined;
    if (!mesh || !this.landscapeInfo) return null;
    const p = mesh.geometry.getAttribute("position") as THREE.BufferAttribute;
    const i = row * this.landscapeInfo.shape[1] + col;
    mesh.updateMatrixWorld();
    return new THREE.Vector3(p.getX(i), p.getY(i), p.getZ(i)).applyMatrix4(mesh.matrixWorld);
  }

  /** Where an inspect overlay's centre is in the scene. */
  inspectPosition(module: string, name: string): THREE.Vector3 | null {
    const mesh = this.inspect.getObjectByName(`inspect:${module}|${name}`);
    return mesh ? mesh.getWorldPosition(new THREE.Vector3()) : null;
  }
}

export type { OverlayHit, OverlayInfo };
