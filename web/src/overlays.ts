// The data overlays beside the blocks: weight maps and bias bars of every layer (channel
// "weights"), histogram ridges and the PCA scatter of the selected layer (channel "detail"),
// one input's activations, feature visualisations, the loss landscape, and (embeddingClouds.ts)
// the embedding clouds. Each overlay is a panel with its title, its colour scale and its axes
// written on it (overlayCaptions.ts), turned to face the framing camera and put beside its
// block where no block is (overlayPlacement.ts). Hovering any cell, bar, ridge bin or point
// reports the exact value the server sent.
import * as THREE from "three";
import { Text } from "troika-three-text";
import type { Frame } from "./codec";
import { EmbeddingClouds } from "./embeddingClouds";
import { colourBar, shapeText, textMesh, textWidth, titleText } from "./overlayCaptions";
import { type OverlayHit, type OverlayInfo, parse } from "./overlayFrame";
import {
  BarsBatch, finite, frameBox, gridCell, gridMesh, pointsMesh, ridgeMesh, slabCell, slabsMesh, surfaceMesh,
} from "./overlayMeshes";
import { blockBoxes, FACE_VIEWER, Placer, turnedSize } from "./overlayPlacement";
import { describeValue } from "./overlayValues";
import { type SceneView, scenePathOf } from "./sceneView";
import { displayName, formatStat } from "./dom";

/** A weight column stands in the gap after its block: the widest it gets, and the air left. */
const COLUMN_MAX = 0.6, COLUMN_AIR = 0.2, BARS_ZONE = 0.16, BAR_HEIGHT = 0.12;
/** Relief is gentle next to the cell size, so a raised cell never hides its neighbours. */
const RELIEF_MAX = 0.05, RELIEF_PER_CELL = 0.6;
/** Panels above a block leave this much room for the block's label. */
const LABEL_ROOM = 0.45;
const PANEL = 0.9, PANEL_GAP = 0.25, RIDGE_HEIGHT = 0.5;
const TITLE = 0.055, SMALL = 0.042, BAR = 0.035;
const SLAB_MAX = 0.9, FEATURE_SIZE = 0.45, MAX_FEATURES = 8;
/** The landscape's side: this share of the model's longest side, within these bounds. */
const LANDSCAPE_SHARE = 0.25, LANDSCAPE_MIN = 3, LANDSCAPE_MAX = 12, LANDSCAPE_RELIEF = 0.45;

type Channel = "weights" | "detail" | "inspect" | "features" | "landscape";

/** One placed overlay as the tests and the legend read it. */
export interface PlacedOverlay {
  channel: Channel; module: string; name: string; kind: string; title: string; box: THREE.Box3;
}

/** A panel in its own frame (x right, y up, +z towards the viewer), bottom-centred at its
 * origin; ``w``, ``h``, ``d`` are its extents (x from -w/2, y from 0, z centred). */
interface Panel { group: THREE.Group; w: number; h: number; d: number; }

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
  /** The landscape's world box, or null while there is none. */
  landscapeBox: THREE.Box3 | null = null;
  weightList: OverlayInfo[] = [];
  detailList: OverlayInfo[] = [];
  weightStep: number | null = null;
  detailModule: string | null = null;
  /** Activation stacks: the channel in front per module, and whether stacks are fanned out. */
  readonly slabFront = new Map<string, number>();
  fanned = false;
  /** Every overlay placed, with its title and world box (for the tests and window.nnviz3d). */
  readonly placed: PlacedOverlay[] = [];
  /** Asks for a render (text glyphs arrive asynchronously). */
  onChange: () => void = () => {};
  /** Meshes that can be hovered, with the overlay each shows. */
  private readonly targets = new Map<THREE.Object3D, OverlayInfo>();
  private readonly slabOrder = new Map<THREE.Object3D, number[]>();
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

  private readonly synced = () => this.onChange();

  /** Replace the weight maps and bias bars with a ``weights`` frame. */
  setWeights(frame: Frame): void {
    this.weightList = parse(frame);
    this.weightStep = frame.header.step;
    this.placeWeights();
  }

  /** Re-anchor everything after the scene changed (expand/collapse). */
  relayout(): void {
    for (const c of ["weights", "detail", "inspect", "features", "landscape"] as Channel[]) this.unclaim(c);
    // the per-layer panels first; the selected layer's row of ridges goes above whatever they took
    this.placeWeights();
    this.placeInspect(false);
    this.placeFeatures(false);
    this.placeDetail();
    this.placeLandscape();
    this.clouds.relayout();
  }

  // ---- placement --------------------------------------------------------------------------

  /** A placer that avoids every block and every other channel's overlays. */
  private placerFor(channel: Channel): Placer {
    const p = new Placer(blockBoxes(this.view));
    for (const o of this.placed) if (o.channel !== channel) p.take(o.box);
    return p;
  }

  private unclaim(channel: Channel): void {
    for (let i = this.placed.length - 1; i >= 0; i--) if (this.placed[i].channel === channel) this.placed.splice(i, 1);
  }

  /** Put ``panel`` at the first free candidate (world centres), turned to face the viewer; it
   * is recorded with its title and box. Returns the world box. */
  private put(placer: Placer, panel: Panel, candidates: THREE.Vector3[], record: Omit<PlacedOverlay, "box">): THREE.Box3 {
    const size = turnedSize(panel.w, panel.h, panel.d);
    const at = placer.place(size, candidates);
    panel.group.position.set(at.x, at.y - panel.h / 2, at.z);
    panel.group.rotation.y = FACE_VIEWER;
    const box = new THREE.Box3().setFromCenterAndSize(at, size);
    this.placed.push({ ...record, box });
    return box;
  }

  /** Candidate centres above a block (clear of its label), centred, then along the row. */
  private above(a: THREE.Box3, size: THREE.Vector3): THREE.Vector3[] {
    const c = a.getCenter(new THREE.Vector3());
    const y = a.max.y + LABEL_ROOM + size.y / 2;
    const out = [new THREE.Vector3(c.x, y, c.z)];
    for (let k = 1; k <= 3; k++) {
      out.push(new THREE.Vector3(c.x, y, c.z + k * (size.z + 0.1)), new THREE.Vector3(c.x, y, c.z - k * (size.z + 0.1)));
    }
    out.push(new THREE.Vector3(c.x, y, c.z));
    return out;
  }

  private anchorBox(module: string): THREE.Box3 | null {
    const a = this.anchor(module);
    if (!a) return null;
    const pick = this.view.pathIndex.get(scenePathOf(module))!;
    return this.view.boxOf(pick);
  }

  /** Title lines above a panel of width ``w`` whose top is at ``y``; returns the new top. */
  private titleOn(group: THREE.Group, lines: string[], w: number, y: number, size = TITLE): { top: number; width: number } {
    let width = w;
    for (let i = lines.length - 1; i >= 0; i--) {
      const t = textMesh(lines[i], size, this.synced, "center", "bottom");
      t.position.set(0, y, 0.002);
      t.name = i === 0 ? "overlay-title" : "overlay-subtitle";
      group.add(t);
      y += size * 1.25;
      width = Math.max(width, textWidth(lines[i], size));
    }
    return { top: y, width };
  }

  // ---- weight maps and bias bars ------------------------------------------------------------

  /** How far the free floor reaches after block ``a`` along +z (the gap to the next block). */
  private gapAfter(a: THREE.Box3, blocks: THREE.Box3[]): number {
    let gap = Infinity;
    for (const b of blocks) {
      if (b.min.z < a.max.z - 1e-6 || b.max.x < a.min.x || b.min.x > a.max.x) continue;
      gap = Math.min(gap, b.min.z - a.max.z);
    }
    return gap;
  }

  private placeWeights(): void {
    this.clear(this.weights);
    this.unclaim("weights");
    this.gridMeshes.clear();
    this.barOwner = [];
    this.hidden = 0;
    const barCount = this.weightList.filter((o) => o.kind === "bars").reduce((n, o) => n + o.arrays.values.length, 0);
    this.bars = barCount ? new BarsBatch(barCount) : null;
    const placer = this.placerFor("weights");
    const blocks = blockBoxes(this.view);
    const modules = [...new Set(this.weightList.map((o) => o.module))];
    for (const module of modules) {
      const a = this.anchorBox(module);
      const mine = this.weightList.filter((o) => o.module === module);
      if (!a) { this.hidden += mine.length; continue; }
      const grid = mine.find((o) => o.kind === "grid" && o.name === "weight") ?? mine.find((o) => o.kind === "grid");
      const bias = mine.find((o) => o.kind === "bars");
      const gap = this.gapAfter(a, blocks);
      const w = Math.max(0.3, Math.min(COLUMN_MAX, gap - COLUMN_AIR));
      const panel = this.weightColumn(module, grid, bias, w);
      const title = titleText(module, `${(grid ?? bias)!.name} ${shapeText((grid ?? bias)!.meta.full_shape ?? (grid ?? bias)!.shape)}`,
        `step ${this.weightStep ?? "–"}`);
      // stand at the block's viewer side: in the gap after it, else before it, else above it
      const x = a.min.x + panel.d / 2 + 0.02, y = panel.h / 2;
      const size = turnedSize(panel.w, panel.h, panel.d);
      const candidates = [new THREE.Vector3(x, y, a.max.z + 0.1 + panel.w / 2),
        new THREE.Vector3(x, y, a.min.z - 0.1 - panel.w / 2), ...this.above(a, size)];
      this.put(placer, panel, candidates, { channel: "weights", module, name: (grid ?? bias)!.name,
        kind: (grid ?? bias)!.kind, title });
      this.weights.add(panel.group);
      if (bias && this.bars) this.addBars(bias, panel, w);
    }
    if (this.bars) {
      this.bars.finish();
      this.bars.mesh.name = "bias-bars";
      this.weights.add(this.bars.mesh);
    }
  }

  /** One layer's weight map (upright, row 0 at the top), its colour scale and title, with room
   * for its bias bars at the foot. */
  private weightColumn(module: string, grid: OverlayInfo | undefined, bias: OverlayInfo | undefined, w: number): Panel {
    const group = new THREE.Group();
    let top = BARS_ZONE;
    const shown = grid ?? bias!;
    if (grid) {
      const [rows, cols] = grid.shape;
      const h = Math.min(0.9, Math.max(0.12, (w * rows) / cols));
      const relief = Math.min(RELIEF_MAX, RELIEF_PER_CELL * Math.min(w / cols, h / rows));
      const mesh = gridMesh(rows, cols, grid.arrays.colors as Uint8Array, grid.arrays.heights, w, h, relief);
      mesh.geometry.rotateX(Math.PI / 2); // upright, facing +z, row 0 at the top
      mesh.position.set(0, BARS_ZONE + h / 2, 0);
      mesh.name = `weight:${grid.module}|${grid.name}`;
      group.add(mesh);
      this.targets.set(mesh, grid);
      this.gridMeshes.set(`${grid.module}|${grid.name}`, mesh);
      top = BARS_ZONE + h;
    }
    const scale = colourBar(shown.legend.stops ?? [], shown.legend.lo, shown.legend.hi, w * 0.7, BAR * 0.6, SMALL, this.synced);
    scale.position.set(0, top + 0.03 + SMALL * 1.1 + BAR * 0.3, 0);
    group.add(scale);
    const what = `${shown.name} ${shapeText(shown.meta.full_shape ?? shown.shape)} · step ${this.weightStep ?? "–"}`;
    const chars = Math.max(8, Math.floor(w / (TITLE * 0.56)));
    const t = this.titleOn(group, [displayName(module || "(model)", chars), what], w, top + 0.06 + SMALL * 1.1 + BAR, TITLE * 0.85);
    return { group, w: t.width, h: t.top, d: 2 * RELIEF_MAX + 0.04 };
  }

  /** The bias bars of a column at its foot, in world coordinates (one batch for all). */
  private addBars(o: OverlayInfo, panel: Panel, w: number): void {
    const n = o.arrays.values.length;
    const step = w / n;
    const g = panel.group;
    for (let k = 0; k < n; k++) {
      const local = new THREE.Vector3(-w / 2 + (k + 0.5) * step, 0, 0);
      const at = local.applyAxisAngle(new THREE.Vector3(0, 1, 0), g.rotation.y).add(g.position);
      const h = Math.max(0.004, Math.abs(o.arrays.heights[k]) * BAR_HEIGHT);
      // the column faces -x: its width runs along z
      this.bars!.add(at.x, at.z, 0.05, step * 0.8, h, o.arrays.colors as Uint8Array, 3 * k, g.position.y);
      this.barOwner.push({ overlay: o, index: k });
    }
  }

  // ---- ridges and scatter of the selected layer ----------------------------------------------

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
    this.unclaim("detail");
  }

  /** The world box of the detail panels shown, or null. */
  detailBox(): THREE.Box3 | null {
    const boxes = this.placed.filter((o) => o.channel === "detail");
    return boxes.length ? boxes.reduce((b, o) => b.union(o.box), new THREE.Box3()) : null;
  }

  private placeDetail(): void {
    this.clear(this.detail);
    this.unclaim("detail");
    if (!this.detailModule) return;
    const a = this.anchorBox(this.detailModule);
    if (!a) return;
    const panels: { panel: Panel; o: OverlayInfo; title: string }[] = [];
    for (const o of this.detailList) {
      const built = o.kind === "ridge" ? this.ridgePanel(o) : o.kind === "points" ? this.scatterPanel(o) : null;
      if (built) panels.push({ ...built, o });
    }
    if (!panels.length) return;
    // one row of panels along the forward axis, above the block
    const row = new THREE.Group();
    const gap = PANEL_GAP;
    const w = panels.reduce((s, p) => s + p.panel.w, 0) + gap * (panels.length - 1);
    const h = Math.max(...panels.map((p) => p.panel.h)), d = Math.max(...panels.map((p) => p.panel.d));
    let x = -w / 2;
    for (const p of panels) {
      p.panel.group.position.x = x + p.panel.w / 2;
      p.panel.group.name = `detail:${p.o.name}`;
      row.add(p.panel.group);
      x += p.panel.w + gap;
    }
    const whole: Panel = { group: row, w, h, d };
    const size = turnedSize(w, h, d);
    this.put(this.placerFor("detail"), whole, this.above(a, size), { channel: "detail", module: this.detailModule,
      name: "detail", kind: "row", title: titleText(this.detailModule, "detail") });
    this.placed.pop(); // the row stands for its panels, recorded one by one below
    this.detail.add(row);
    row.updateMatrixWorld(true);
    for (const p of panels) {
      const local = new THREE.Box3(new THREE.Vector3(-p.panel.w / 2, 0, -p.panel.d / 2), new THREE.Vector3(p.panel.w / 2, p.panel.h, p.panel.d / 2));
      this.placed.push({ channel: "detail", module: this.detailModule, name: p.o.name, kind: p.o.kind, title: p.title,
        box: local.applyMatrix4(p.panel.group.matrixWorld) });
    }
  }

  /** A histogram ridge: bins along x (value), steps from the back (oldest) to the front. */
  private ridgePanel(o: OverlayInfo): { panel: Panel; title: string } {
    const [rows, bins] = o.shape;
    const group = new THREE.Group();
    const ridge = ridgeMesh(o.arrays.heights, o.arrays.colors as Uint8Array, rows, bins, PANEL, PANEL * 0.6, RIDGE_HEIGHT);
    ridge.position.y = SMALL * 2.6;
    this.targets.set(ridge.children[0], o);
    const box = frameBox(PANEL, RIDGE_HEIGHT + 0.02, PANEL * 0.6);
    box.position.y = SMALL * 2.6 + (RIDGE_HEIGHT + 0.02) / 2;
    group.add(ridge, box);
    const e = o.arrays.edges, steps = o.arrays.steps;
    const front = PANEL * 0.3 + 0.01;
    const lo = textMesh(formatStat(e[0]), SMALL, this.synced, "left", "top");
    lo.position.set(-PANEL / 2, SMALL * 2.5, front);
    const hi = textMesh(formatStat(e[e.length - 1]), SMALL, this.synced, "right", "top");
    hi.position.set(PANEL / 2, SMALL * 2.5, front);
    const axis = textMesh(`${o.name.startsWith("grad") ? "gradient" : o.name.startsWith("act") ? "activation" : "weight"} value`,
      SMALL, this.synced, "center", "top", 0xb8c0d4);
    axis.position.set(0, SMALL * 2.5, front);
    const depth = textMesh(`steps ${steps[0]} (back) to ${steps[steps.length - 1]} (front) · height: count`, SMALL * 0.9,
      this.synced, "center", "top", 0xb8c0d4);
    depth.position.set(0, SMALL * 1.2, front);
    for (const t of [lo, hi, axis, depth]) t.name = "axis-label";
    group.add(lo, hi, axis, depth);
    const what = { weight_hist: "weight histogram", grad_hist: "gradient histogram", act_hist: "activation histogram" }[o.name] ?? o.name;
    const title = titleText(o.module, what, `${bins} bins × ${rows} steps`);
    const t = this.titleOn(group, [title], PANEL, SMALL * 2.6 + RIDGE_HEIGHT + 0.06);
    return { panel: { group, w: t.width, h: t.top, d: PANEL * 0.6 }, title };
  }

  /** The PCA scatter of a layer's units, in a cube with its axes named. */
  private scatterPanel(o: OverlayInfo): { panel: Panel; title: string } {
    const group = new THREE.Group();
    const side = PANEL * 0.75, base = SMALL * 1.6;
    const pts = pointsMesh(o.arrays.positions, o.arrays.colors as Uint8Array, side * 0.9);
    pts.position.y = base + side / 2;
    this.targets.set(pts, o);
    const cube = frameBox(side, side, side);
    cube.position.y = base + side / 2;
    group.add(pts, cube);
    const pc1 = textMesh("PC1", SMALL, this.synced, "center", "top", 0xb8c0d4);
    pc1.position.set(0, base - 0.01, side / 2);
    const pc2 = textMesh("PC2", SMALL, this.synced, "right", "middle", 0xb8c0d4);
    pc2.position.set(-side / 2 - 0.02, base + side / 2, side / 2);
    const pc3 = textMesh("PC3: depth", SMALL, this.synced, "left", "bottom", 0xb8c0d4);
    pc3.position.set(side / 2 + 0.02, base, side / 2);
    for (const t of [pc1, pc2, pc3]) t.name = "axis-label";
    group.add(pc1, pc2, pc3);
    const title = titleText(o.module, `${o.name === "weight_pca" ? "weight rows" : o.name} PCA`, `${o.shape[0]} units`);
    const t = this.titleOn(group, [title], side, base + side + 0.05);
    const w = Math.max(t.width, side + 2 * textWidth("PC3: depth", SMALL) + 0.1);
    return { panel: { group, w, h: t.top, d: side }, title };
  }

  // ---- one input through every layer -------------------------------------------------------

  /** Every layer's output for one input (an ``inspect`` frame), floating above each block. */
  setInspect(frame: Frame): void {
    const { overlays: _o, arrays: _a, type: _t, ...info } = frame.header;
    this.inspectInfo = info;
    this.inspectList = parse(frame);
    for (const o of this.inspectList) {
      if (o.kind === "slabs") this.slabFront.set(o.module, Math.min(this.slabFront.get(o.module) ?? 0, o.shape[0] - 1));
    }
    this.placeInspect();
  }

  clearInspect(): void {
    this.inspectInfo = null;
    this.inspectList = [];
    this.clear(this.inspect);
    this.unclaim("inspect");
  }

  /** Bring the next (``delta`` = 1) or previous channel of a stack to the front: of
   * ``module``, or of every stack when null. Returns the channels now in front. */
  flipSlabs(module: string | null, delta = 1): Record<string, number> {
    for (const o of this.inspectList) {
      if (o.kind !== "slabs" || (module !== null && o.module !== module)) continue;
      const c = o.shape[0];
      this.slabFront.set(o.module, (((this.slabFront.get(o.module) ?? 0) + delta) % c + c) % c);
    }
    this.placeInspect();
    return this.slabState().front;
  }

  /** Spread every stack's channels side by side (true) or stack them again (false). */
  fanSlabs(on: boolean): void {
    this.fanned = on;
    this.placeInspect();
  }

  slabState(): { fanned: boolean; front: Record<string, number>; channels: Record<string, number> } {
    const front: Record<string, number> = {}, channels: Record<string, number> = {};
    for (const o of this.inspectList) {
      if (o.kind !== "slabs") continue;
      front[o.module] = this.slabFront.get(o.module) ?? 0;
      channels[o.module] = o.shape[0];
    }
    return { fanned: this.fanned, front, channels };
  }

  private placeInspect(detailAfter = true): void {
    if (detailAfter) this.unclaim("detail");
    this.clear(this.inspect);
    this.unclaim("inspect");
    this.slabOrder.clear();
    const placer = this.placerFor("inspect");
    const stacks = new Map<string, THREE.Group>();
    const ordered = [...this.inspectList].sort((x, y) => Number(x.name === "saliency") - Number(y.name === "saliency"));
    for (const o of ordered) {
      if (o.kind !== "slabs" && o.kind !== "grid") continue;
      if (o.name === "saliency") { this.addSaliency(o, stacks.get(o.module)); continue; }
      // attention weights sit on the attention op's own block when the module is expanded
      const anchored = (o.name === "attention" ? this.anchorBox(`${o.module}.scaled_dot_product_attention`) : null);
      const a = anchored ?? this.anchorBox(o.module);
      if (!a) continue;
      const panel = this.activationPanel(o);
      const size = turnedSize(panel.w, panel.h, panel.d);
      const title = panel.group.userData.title as string;
      this.put(placer, panel, this.above(a, size), { channel: "inspect", module: o.module, name: o.name, kind: o.kind, title });
      panel.group.name = `inspect-panel:${o.module}|${o.name}`;
      this.inspect.add(panel.group);
      stacks.set(o.module, panel.group);
    }
    if (detailAfter) this.placeDetail();
  }

  /** A layer's output for the input: a stack of channel slabs (the front one flips through
   * them; fanned, all side by side) or a grid of units, with its title and colour scale. */
  private activationPanel(o: OverlayInfo): Panel {
    const group = new THREE.Group();
    const colors = o.arrays.colors as Uint8Array;
    let mesh: THREE.Mesh, w: number, h: number, d: number, what: string;
    const base = SMALL * 1.3 + BAR + 0.04;
    if (o.kind === "slabs") {
      const [c, rows, cols] = o.shape;
      const front = this.slabFront.get(o.module) ?? 0;
      if (this.fanned && c > 1) {
        const per = Math.ceil(Math.sqrt(c)), lines = Math.ceil(c / per);
        const cell = Math.max(0.1, Math.min(0.35, (SLAB_MAX * 1.6) / per));
        const sw = cell, sh = cell * Math.min(2, rows / cols), pad = cell * 0.08;
        w = per * (sw + pad); h = lines * (sh + pad); d = 0.02;
        mesh = slabsMesh(c, rows, cols, colors, sw, sh, 0, 1,
          (q) => [-w / 2 + (q % per + 0.5) * (sw + pad), base + h - (Math.floor(q / per) + 0.5) * (sh + pad), 0]);
        this.slabOrder.set(mesh, [...Array(c).keys()]);
        what = `activation ${shapeText(o.shape)} · ${c} channels`;
      } else {
        w = SLAB_MAX * Math.min(1, cols / rows); h = SLAB_MAX * Math.min(1, rows / cols);
        d = Math.min(0.3, 0.015 * c);
        const order = [...Array(c).keys()].map((q) => (front + q) % c);
        const dz = c > 1 ? d / (c - 1) : 0;
        // quad 0 (the channel in front) nearest the viewer (+z), the rest behind it
        mesh = slabsMesh(c, rows, cols, colors, w, h, d, 1, (q) => [0, base + h / 2, d / 2 - q * dz], order);
        this.slabOrder.set(mesh, order);
        what = `activation ${shapeText(o.shape)} · channel ${front + 1}/${c}`;
      }
    } else {
      const [rows, cols] = o.shape;
      w = SLAB_MAX * (o.name === "attention" ? 1 : 1.2);
      h = Math.min(SLAB_MAX * 1.2, Math.max(0.1, (w * rows) / cols));
      d = 0.02;
      mesh = slabsMesh(1, rows, cols, colors, w, h, 0, 1, () => [0, base + h / 2, 0]);
      const full = o.meta.full_shape ? shapeText(o.meta.full_shape) : shapeText(o.shape);
      what = `${o.name} ${full}`;
    }
    mesh.name = `inspect:${o.module}|${o.name}`;
    this.targets.set(mesh, o);
    group.add(mesh);
    const scale = colourBar(o.legend.stops ?? [], o.legend.lo, o.legend.hi, Math.min(w, 0.7), BAR * 0.6, SMALL, this.synced);
    scale.position.set(0, SMALL * 1.2 + BAR * 0.3, d / 2 + 0.005);
    group.add(scale);
    const title = titleText(o.module, what);
    const lines = o.kind === "slabs" && o.shape[0] > 1 ? [title, this.fanned ? "\\ stacks them again" : "[ ] flip channels · \\ fans them out"] : [title];
    const t = this.titleOn(group, lines, w, base + h + 0.04);
    group.userData.title = title;
    return { group, w: Math.max(t.width, 0.7 + 2 * textWidth("-0.0000", SMALL)), h: t.top, d: d + 0.02 };
  }

  /** A saliency map lies just in front of the stack it explains, half transparent. */
  private addSaliency(o: OverlayInfo, stack: THREE.Group | undefined): void {
    const slabs = stack?.children.find((c) => c.name.startsWith("inspect:")) as THREE.Mesh | undefined;
    if (!stack || !slabs) return;
    slabs.geometry.computeBoundingBox();
    const bb = slabs.geometry.boundingBox!;
    const [rows, cols] = o.shape;
    const w = bb.max.x - bb.min.x, h = bb.max.y - bb.min.y;
    const mesh = slabsMesh(1, rows, cols, o.arrays.colors as Uint8Array, w, h, 0, 0.72,
      () => [(bb.min.x + bb.max.x) / 2, (bb.min.y + bb.max.y) / 2, bb.max.z + 0.02]);
    mesh.name = `inspect:${o.module}|${o.name}`;
    mesh.renderOrder = 3;
    stack.add(mesh);
    this.targets.set(mesh, o);
    const box = this.placed.find((p) => p.channel === "inspect" && p.module === o.module);
    this.placed.push({ channel: "inspect", module: o.module, name: o.name, kind: o.kind,
      title: titleText(o.module, `saliency ${displayName(this.inspectInfo?.method ?? "", 30)}`), box: box?.box.clone() ?? new THREE.Box3() });
  }


  // ---- feature visualisations ----------------------------------------------------------------

  /** Add one unit's feature visualisation (a ``feature`` frame); it replaces the same unit's. */
  addFeature(frame: Frame): void {
    const [o] = parse(frame);
    if (!o) return;
    this.featureList = [...this.featureList.filter((f) => !(f.module === o.module && f.name === o.name)), o]
      .slice(-MAX_FEATURES);
    this.placeFeatures();
  }

  private placeFeatures(detailAfter = true): void {
    if (detailAfter) this.unclaim("detail");
    this.clear(this.features);
    this.unclaim("features");
    const placer = this.placerFor("features");
    for (const o of this.featureList) {
      const a = this.anchorBox(o.module);
      if (!a) continue;
      const [c, h, w] = o.shape;
      const group = new THREE.Group();
      const base = SMALL * 1.3 + BAR + 0.04;
      const mesh = slabsMesh(c, h, w, o.arrays.colors as Uint8Array, FEATURE_SIZE, FEATURE_SIZE, 0, 1,
        () => [0, base + FEATURE_SIZE / 2, 0]);
      mesh.name = `feature:${o.module}|${o.name}`;
      group.add(mesh);
      this.targets.set(mesh, o);
      const scale = colourBar(o.legend.stops ?? [], o.legend.lo, o.legend.hi, FEATURE_SIZE, BAR * 0.6, SMALL, this.synced);
      scale.position.set(0, SMALL * 1.2 + BAR * 0.3, 0.005);
      group.add(scale);
      const ratio = Number(o.meta.ratio);
      const title = titleText(o.module, `unit ${o.meta.unit} · feature visualisation`,
        Number.isFinite(ratio) ? `${formatStat(ratio)}× a random input` : null);
      const t = this.titleOn(group, [title], FEATURE_SIZE, base + FEATURE_SIZE + 0.04, SMALL);
      const panel: Panel = { group, w: Math.max(t.width, FEATURE_SIZE + 2 * textWidth("-0.0000", SMALL)), h: t.top, d: 0.04 };
      this.put(placer, panel, this.above(a, turnedSize(panel.w, panel.h, panel.d)),
        { channel: "features", module: o.module, name: o.name, kind: o.kind, title });
      this.features.add(group);
    }
    if (detailAfter) this.placeDetail();
  }

  // ---- the loss landscape --------------------------------------------------------------------

  /** Show the loss surface (a ``landscape`` frame) beside the model. */
  setLandscape(frame: Frame): void {
    this.landscapeInfo = parse(frame)[0] ?? null;
    this.placeLandscape();
  }

  /** Height in [0, 1) of a loss, as the server's builder makes the surface's heights
   * (nnviz3d/scene/landscape_surface.py ``soft_height``); NaN/Inf stands at the top. */
  private softHeight(loss: number): number {
    const o = this.landscapeInfo!;
    const lo = finite(Number(o.meta.min)), top = finite(Number(o.meta.cap)), knee = Number(o.meta.knee ?? 1);
    if (!Number.isFinite(loss)) return 1;
    const x = Math.max(0, (loss - lo) / (top - lo || 1));
    if (!(knee < 1) || x <= knee) return Math.min(x, 1);
    return knee + (1 - knee) * Math.tanh((x - knee) / (1 - knee));
  }

  private placeLandscape(): void {
    this.clear(this.landscape);
    this.unclaim("landscape");
    this.landscapeBox = null;
    const o = this.landscapeInfo;
    if (!o) return;
    // beside the model's bounding box (past its +z face, where the framing camera looks),
    // sized with the model so it reads next to it
    const b = this.view.bounds(), bs = b.getSize(new THREE.Vector3());
    const size = THREE.MathUtils.clamp(LANDSCAPE_SHARE * Math.max(bs.x, bs.z), LANDSCAPE_MIN, LANDSCAPE_MAX);
    const height = size * LANDSCAPE_RELIEF;
    const [rows, cols] = o.shape;
    const surface = surfaceMesh(rows, cols, o.arrays.heights, o.arrays.colors as Uint8Array, size, height);
    surface.name = "landscape-surface";
    this.targets.set(surface, o);
    const group = new THREE.Group();
    group.name = "landscape-group";
    group.add(surface, frameBox(size, height, size).translateY(height / 2));
    // the current weights (the centre) and the projected training path, on the surface
    const al = o.arrays.alphas;
    const span = finite(Math.max(Math.abs(al[0]), Math.abs(al[al.length - 1]))) || 1;
    const toX = (alpha: number) => (finite(alpha) / span) * (size / 2);
    const toY = (loss: number) => this.softHeight(loss) * height + 0.03 * size / LANDSCAPE_MIN;
    const here = new THREE.Mesh(new THREE.SphereGeometry(0.07 * size / LANDSCAPE_MIN, 12, 8),
      new THREE.MeshBasicMaterial({ color: 0xff3b4e }));
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
      const dots = new THREE.Points(geo.clone(), new THREE.PointsMaterial({ color: 0xffffff, size: 0.09 * size / LANDSCAPE_MIN }));
      dots.name = "landscape-path-steps";
      group.add(line, dots);
    }
    // words face the framing camera (-x): title and colour scale as a header over the far
    // edge (seen above the surface from an elevated camera), axis names along the near edge
    const big = size * 0.03, small = size * 0.02;
    const header = new THREE.Group();
    header.rotation.y = FACE_VIEWER;
    header.position.set(size / 2 + 0.05, height + small, 0);
    const near = new THREE.Group();
    near.rotation.y = FACE_VIEWER;
    near.position.set(-size / 2 - 0.05, 0, 0);
    const clipped = Number(o.meta.clipped) > 0 ? "  (above: top colour, height eased)" : "";
    const title = [`loss landscape ${rows}×${cols}`, displayName(o.meta.directions ?? "", 40),
      `step ${o.meta.step ?? this.weightStep ?? "–"}`].filter((x) => x).join(" · ");
    const scale = colourBar(o.legend.stops ?? [], o.legend.lo, o.legend.hi, size * 0.5, big * 0.4, small, this.synced, clipped);
    scale.position.set(0, small * 1.3 + big * 0.2, 0);
    const t = textMesh(title, big, this.synced, "center", "bottom");
    t.name = "overlay-title";
    t.position.set(0, small * 1.3 + big * 0.6, 0);
    header.add(scale, t);
    const loss = textMesh("loss", small, this.synced, "right", "top", 0xb8c0d4);
    loss.position.set(-size / 2 - 0.05, height, 0);
    const beta = textMesh("beta (d2)", small, this.synced, "center", "top", 0xb8c0d4);
    beta.position.set(0, -0.05, 0);
    const alpha = textMesh("alpha (d1): depth · white: training path · red: now", small * 0.9, this.synced, "center", "top", 0xb8c0d4);
    alpha.position.set(0, -0.08 - small * 1.3, 0);
    for (const x of [loss, beta, alpha]) x.name = "axis-label";
    near.add(loss, beta, alpha);
    group.add(header, near);
    const top = height + small * 2.5 + big * 1.8;
    const wide = Math.max(size, textWidth(title, big)) + 2 * textWidth("loss", small);
    const placer = this.placerFor("landscape");
    const local = new THREE.Vector3(size + 0.2, top + 0.1 + small * 3, wide);
    const c = b.getCenter(new THREE.Vector3());
    const at = placer.place(local, [new THREE.Vector3(c.x, local.y / 2 - small * 3, b.max.z + 1 + local.z / 2),
      new THREE.Vector3(b.max.x + 1 + local.x / 2, local.y / 2 - small * 3, c.z)]);
    group.position.set(at.x, at.y - local.y / 2 + small * 3, at.z);
    this.landscapeBox = new THREE.Box3().setFromCenterAndSize(at, local);
    this.placed.push({ channel: "landscape", module: "", name: "landscape", kind: "surface", title, box: this.landscapeBox.clone() });
    this.landscape.add(group);
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
        if (o instanceof Text) { o.dispose(); return; }
        const m = o as THREE.Mesh;
        m.geometry?.dispose();
        const mat = m.material as THREE.MeshBasicMaterial | undefined;
        if (!mat?.userData?.sharedMap) mat?.map?.dispose();
        mat?.dispose?.();
      });
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
      return this.describe(o, slabCell(hit.faceIndex, hit.uv, o.shape[0], o.shape[1], o.shape[2], this.slabOrder.get(hit.object)));
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
    return describeValue(o, index);
  }

  /** Where a grid cell's centre is on the relief surface (scene coordinates). */
  cellPosition(module: string, name: string, row: number, col: number): THREE.Vector3 | null {
    const mesh = this.gridMeshes.get(`${module}|${name}`);
    const o = mesh ? this.targets.get(mesh) : undefined;
    if (!mesh || !o) return null;
    const p = (mesh.geometry as THREE.PlaneGeometry).parameters;
    const [rows, cols] = o.shape;
    // the upright map: columns along local x, row 0 at the top, relief towards local +z
    const local = new THREE.Vector3(-p.width / 2 + ((col + 0.5) / cols) * p.width, p.height / 2 - ((row + 0.5) / rows) * p.height, 0);
    mesh.updateWorldMatrix(true, false);
    const at = local.clone().applyMatrix4(mesh.matrixWorld);
    const normal = new THREE.Vector3(0, 0, 1).transformDirection(mesh.matrixWorld);
    const ray = new THREE.Raycaster(at.clone().addScaledVector(normal, 2), normal.clone().negate());
    const hit = ray.intersectObject(mesh, false)[0];
    return hit ? hit.point : at;
  }

  /** The direction a weight map faces (towards its viewer), in scene coordinates. */
  cellNormal(module: string, name = "weight"): THREE.Vector3 | null {
    const mesh = this.gridMeshes.get(`${module}|${name}`);
    if (!mesh) return null;
    mesh.updateWorldMatrix(true, false);
    return new THREE.Vector3(0, 0, 1).transformDirection(mesh.matrixWorld);
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
    mesh.updateWorldMatrix(true, false);
    return new THREE.Vector3(p.getX(i), p.getY(i), p.getZ(i)).applyMatrix4(mesh.matrixWorld);
  }

  /** Where an inspect overlay's centre is in the scene. */
  inspectPosition(module: string, name: string): THREE.Vector3 | null {
    const mesh = this.inspect.getObjectByName(`inspect:${module}|${name}`) as THREE.Mesh | undefined;
    if (!mesh) return null;
    mesh.geometry.computeBoundingBox();
    mesh.updateWorldMatrix(true, false);
    return mesh.geometry.boundingBox!.getCenter(new THREE.Vector3()).applyMatrix4(mesh.matrixWorld);
  }

  /** The titles drawn on every overlay shown, with the overlay each names and its box. */
  titles(): { channel: string; module: string; name: string; kind: string; title: string; drawn: string[];
    box: number[][] }[] {
    const groups: Record<Channel, THREE.Group> = { weights: this.weights, detail: this.detail, inspect: this.inspect,
      features: this.features, landscape: this.landscape };
    return this.placed.map((p) => ({ channel: p.channel, module: p.module, name: p.name, kind: p.kind, title: p.title,
      drawn: this.drawnTitles(groups[p.channel], p.box), box: [p.box.min.toArray(), p.box.max.toArray()] }));
  }

  /** The title texts drawn inside ``box`` (text meshes of the channel whose origin lies in it). */
  private drawnTitles(group: THREE.Group, box: THREE.Box3): string[] {
    const out: string[] = [];
    const at = new THREE.Vector3();
    group.updateWorldMatrix(true, true);
    group.traverse((o) => {
      if (!(o instanceof Text) || !o.name.startsWith("overlay-")) return;
      if (box.containsPoint(o.getWorldPosition(at))) out.push(o.text);
    });
    return out;
  }
}

export type { OverlayHit, OverlayInfo };
