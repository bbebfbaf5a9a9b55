// Two more views of the network's topology, both off until asked for (the node-link view is the
// default): the connection matrix of the visible blocks (topologyMatrix.ts; toolbar "Matrix", key
// M, shift+M colours by edge kind or tensor size) and the blocks placed by a spectral embedding of
// the graph (spectralLayout.ts; "Layout", key L), eased to and from the layered layout in a
// second with the edges and labels following; group boxes shrink into their members' centre
// (a group's members need not lie together in the embedding: their label names the cluster). The layered positions are kept as
// the scene sent them and written back exactly. Hovering a matrix cell lights both blocks and the
// edge; clicking selects (selection.ts).
import * as THREE from "three";
import { displayName } from "./dom";
import { isTyping } from "./navigation";
import type { SceneSelection } from "./selection";
import { spectralEmbedding } from "./spectralLayout";
import { type MatrixColor, type MatrixHit, TopologyMatrix } from "./topologyMatrix";
import { $ } from "./ui";
import type { Viewer } from "./viewerContext";

export type LayoutMode = "layers" | "spectral";

/** Seconds the layout change takes. */
const DURATION = 1;
/** The spectral layout's most blocks (its dense eigensolver is O(n^3): 400 blocks take about a
 * second on a slow core; more would stall the page). */
export const MAX_SPECTRAL_BLOCKS = 400;
/** Rounds of pushing overlapping blocks apart in the spectral layout, and the air kept. */
const SEPARATION_ROUNDS = 80, AIR = 0.12;
/** The up axis of the embedding is drawn at this share of the others' scale (a view from
 * above reads a lower shape better; the along and across axes keep their proportions). */
const UP_SCALE = 0.5;

const ease = (t: number) => (t < 0.5 ? 4 * t * t * t : 1 - (-2 * t + 2) ** 3 / 2);

interface Placement { blocks: Float32Array; groups: Float32Array; groupScales: Float32Array }

export class TopologyViews {
  readonly matrix = new TopologyMatrix();
  layout: LayoutMode = "layers";
  /** 0: the layered layout, 1: the spectral one; in between while moving. */
  progress = 0;
  /** Milliseconds the last spectral embedding and the last matrix took to build. */
  readonly timings = { spectral: 0, matrix: 0 };
  /** What the pointer is on in the matrix. */
  hovered: MatrixHit | null = null;
  /** The layered placement, labels and edge lines as the scene sent them. */
  private layered: Placement & { labels: Float32Array; lines: Float32Array[] } | null = null;
  private spectral: Placement | null = null;
  private members: number[][] = [];
  private edgeEnds: [number, number][] = [];
  private readonly edgeLine: THREE.LineSegments;
  private readonly matrixButton = $("btn-matrix") as HTMLButtonElement;
  private readonly layoutButton = $("btn-layout") as HTMLButtonElement;

  /** ``reframe`` re-places the floor grid and frames the camera again when nobody moved it. */
  constructor(private v: Viewer, private selection: SceneSelection, private reframe: () => void) {
    v.world.add(this.matrix.root);
    this.edgeLine = new THREE.LineSegments(new THREE.BufferGeometry(),
      new THREE.LineBasicMaterial({ color: 0xffffff, depthTest: false }));
    this.edgeLine.name = "matrix-edge";
    this.edgeLine.renderOrder = 11;
    this.edgeLine.visible = false;
    v.world.add(this.edgeLine);
    this.matrixButton.addEventListener("click", () => { this.setMatrix(!this.matrix.root.visible); this.matrixButton.blur(); });
    this.layoutButton.addEventListener("click", () => {
      this.setLayout(this.layout === "layers" ? "spectral" : "layers");
      this.layoutButton.blur();
    });
    window.addEventListener("keydown", (e) => {
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "m") this.setMatrix(!this.matrix.root.visible);
      else if (e.key === "M") this.setMatrixColor(this.matrix.colorBy === "size" ? "kind" : "size");
      else if (e.key === "l" || e.key === "L") this.setLayout(this.layout === "layers" ? "spectral" : "layers");
    });
    this.showButtons();
  }

  /** A new scene (first load, expand or collapse): keep its layered placement; the spectral
   * layout, when on, is computed for the new blocks and shown at once; the matrix is rebuilt. */
  sceneLoaded(): void {
    const { view } = this.v;
    this.unhover();
    this.layered = {
      blocks: view.blockPositions.slice(), groups: view.groupPositions.slice(), groupScales: view.groupScales.slice(),
      labels: view.labelPositions.slice(), lines: view.edges.map((e) => e.line.slice()),
    };
    this.members = view.groups.map((g) => view.blocks.map((b, i) => (!g.module || b.module.startsWith(`${g.module}.`) ? i : -1))
      .filter((i) => i >= 0));
    this.edgeEnds = view.edges.map((e) => {
      const s = view.pathIndex.get(e.src), d = view.pathIndex.get(e.dst);
      return [s?.kind === "block" ? s.index : -1, d?.kind === "block" ? d.index : -1];
    });
    this.spectral = null;
    if (this.layout === "spectral" && !this.fits()) { this.layout = "layers"; this.showButtons(); }
    if (this.layout === "spectral") {
      this.spectral = this.embed();
      this.progress = 1;
      this.apply(1);
    } else this.progress = 0;
    if (this.matrix.root.visible) this.buildMatrix();
  }

  // ---- the connection matrix -----------------------------------------------------------------

  setMatrix(on: boolean): void {
    this.matrix.root.visible = on;
    if (on) this.buildMatrix();
    else { this.unhover(); this.matrix.clear(); }
    this.showButtons();
    this.reframe();
    this.v.requestRender();
  }

  setMatrixColor(mode: MatrixColor): void {
    this.matrix.setColorBy(this.v.view, mode);
    this.v.requestRender();
  }

  /** The wall beside the model in both layouts (it stays put while the blocks move). */
  private buildMatrix(): void {
    const t0 = performance.now();
    const { view } = this.v, L = this.layered;
    const box = L ? this.boxOf(L.blocks, L.groups, L.groupScales) : view.bounds();
    const S = this.spectral;
    if (S) box.union(this.boxOf(S.blocks, S.groups, S.groupScales));
    this.matrix.build(view, box, this.v.nav.viewFrom);
    this.timings.matrix = performance.now() - t0;
  }

  /** Pointer over the canvas (picking.ts): the tooltip for a matrix cell or name, or null. */
  hover(raycaster: THREE.Raycaster): string | null {
    const hit = this.matrix.pick(raycaster);
    if (!hit) { this.unhover(); return null; }
    const { view } = this.v;
    const same = JSON.stringify(hit) === JSON.stringify(this.hovered);
    this.hovered = hit;
    if (!same) {
      this.matrix.mark(hit);
      const cell = hit.kind === "cell" ? this.matrix.cells[hit.cell] : null;
      view.setLit(cell ? [cell.src, cell.dst] : hit.kind === "cell" ? [] : [hit.block]);
      this.drawEdge(cell ? cell.edge : -1);
      this.v.requestRender();
    }
    const name = (b: number) => displayName(view.blocks[b].module || "(model)", 80);
    if (hit.kind === "cell") {
      const c = this.matrix.cells[hit.cell];
      const shape = view.blocks[c.src].output_shapes?.[0];
      const kind = view.edges[c.edge]?.kind === "skip" ? "skip (residual)" : "data";
      return `${name(c.src)} → ${name(c.dst)} · ${kind} · ${Array.isArray(shape) ? `[${shape.map((d) => displayName(d, 12)).join(", ")}]` : "shape unknown"}` +
        `${c.elements ? ` · ${c.elements.toLocaleString("en")} elements` : ""}`;
    }
    const out = this.matrix.cells.filter((c) => c.src === hit.block).length;
    const into = this.matrix.cells.filter((c) => c.dst === hit.block).length;
    return `${name(hit.block)} · ${displayName(view.blocks[hit.block].kind, 60)} · ${out} out, ${into} in`;
  }

  /** A click (picking.ts): a cell selects its source block (its output is the tensor that
   * flows), a row's or column's name that block. False when the click was not on the matrix. */
  click(raycaster: THREE.Raycaster): boolean {
    const hit = this.matrix.pick(raycaster);
    if (!hit) return false;
    const index = hit.kind === "cell" ? this.matrix.cells[hit.cell].src : hit.block;
    this.selection.apply({ kind: "block", index }, false);
    return true;
  }

  private unhover(): void {
    if (!this.hovered) return;
    this.hovered = null;
    this.matrix.mark(null);
    this.v.view.setLit([]);
    this.drawEdge(-1);
    this.v.requestRender();
  }

  /** Draw edge ``e`` bright over the scene (-1: none). */
  private drawEdge(e: number): void {
    const line = e >= 0 ? this.v.view.edges[e]?.line : undefined;
    this.edgeLine.visible = !!line;
    if (!line) return;
    const segs = new Float32Array(Math.max(0, line.length / 3 - 1) * 6);
    for (let i = 0, o = 0; i + 3 < line.length; i += 3, o += 6) segs.set(line.subarray(i, i + 6), o);
    this.edgeLine.geometry.dispose();
    this.edgeLine.geometry = new THREE.BufferGeometry();
    this.edgeLine.geometry.setAttribute("position", new THREE.BufferAttribute(segs, 3));
  }

  // ---- the spectral layout -------------------------------------------------------------------

  /** Switch the layout; ``animate`` false jumps there. */
  setLayout(mode: LayoutMode, animate = true): void {
    if (!this.layered || (mode === "spectral" && !this.fits())) return;
    this.layout = mode;
    if (mode === "spectral" && !this.spectral) this.spectral = this.embed();
    if (this.matrix.root.visible) this.buildMatrix(); // clear of both layouts
    if (!animate) { this.progress = mode === "spectral" ? 1 : 0; this.apply(this.progress); this.settle(); }
    this.showButtons();
    this.v.requestRender();
  }

  /** Whether the spectral layout takes the blocks shown (else says why, once). */
  private fits(): boolean {
    const n = this.v.view.blocks.length;
    if (n <= MAX_SPECTRAL_BLOCKS) return true;
    this.v.showToast(`The spectral layout places up to ${MAX_SPECTRAL_BLOCKS} blocks and ${n.toLocaleString("en")} are shown: collapse some groups first`);
    return false;
  }

  /** Move the blocks on (the render loop calls it every frame); true when they moved. */
  tick(dt: number): boolean {
    const goal = this.layout === "spectral" ? 1 : 0;
    if (this.progress === goal || !this.layered) return false;
    const step = dt / DURATION;
    this.progress = goal > this.progress ? Math.min(goal, this.progress + step) : Math.max(goal, this.progress - step);
    this.apply(this.progress);
    if (this.progress === goal) this.settle();
    return true;
  }

  /** After a move: overlays, health marks and the gradient flow find the blocks again. */
  private settle(): void {
    this.v.overlays.relayout();
    this.v.marks.rebuild();
    this.v.state.flowDirty = true;
    this.reframe();
  }

  /** Place everything at ``t`` of the way from the layered layout to the spectral one. */
  private apply(t: number): void {
    const L = this.layered, S = this.spectral, { view } = this.v;
    if (!L) return;
    const e = ease(t);
    const mix = (to: Float32Array, from: Float32Array, target: Float32Array | undefined) => {
      if (!target || e === 0) { to.set(from); return; }
      for (let i = 0; i < to.length; i++) to[i] = from[i] + e * (target[i] - from[i]);
    };
    mix(view.blockPositions, L.blocks, S?.blocks);
    mix(view.groupPositions, L.groups, S?.groups);
    mix(view.groupScales, L.groupScales, S?.groupScales);
    // labels ride on what they name
    view.labels.forEach((label, i) => {
      const pick = view.pathIndex.get(label.for);
      const o = 3 * i;
      if (!pick || e === 0) { view.labelPositions.set(L.labels.subarray(o, o + 3), o); return; }
      const k = 3 * pick.index;
      const [now, was] = pick.kind === "block" ? [view.blockPositions, L.blocks] : [view.groupPositions, L.groups];
      for (let a = 0; a < 3; a++) view.labelPositions[o + a] = L.labels[o + a] + now[k + a] - was[k + a];
      if (pick.kind === "group") view.labelPositions[o + 1] += (view.groupScales[k + 1] - L.groupScales[k + 1]) / 2;
    });
    // each edge bends from its layered course to the straight line between its moved ends
    view.edges.forEach((edge, k) => {
      const from = L.lines[k];
      if (!S || e === 0) { edge.line.set(from); return; }
      const [a, b] = this.edgeEnds[k];
      const last = from.length - 3;
      const da = (ax: number) => (a >= 0 ? S.blocks[3 * a + ax] - L.blocks[3 * a + ax] : 0);
      const db = (ax: number) => (b >= 0 ? S.blocks[3 * b + ax] - L.blocks[3 * b + ax] : 0);
      const along = lengths(from);
      for (let p = 0; p <= last; p += 3) {
        const u = along[p / 3];
        for (let ax = 0; ax < 3; ax++) {
          const straight = (1 - u) * (from[ax] + da(ax)) + u * (from[last + ax] + db(ax));
          edge.line[p + ax] = from[p + ax] + e * (straight - from[p + ax]);
        }
      }
    });
    view.relocate();
    if (this.hovered?.kind === "cell") this.drawEdge(this.matrix.cells[this.hovered.cell]?.edge ?? -1);
    this.v.requestRender();
  }

  /** The spectral placement of the blocks shown, scaled to the layered layout's extent. */
  private embed(): Placement {
    const t0 = performance.now();
    const L = this.layered!, { view } = this.v;
    const n = view.blocks.length;
    const pairs = this.edgeEnds.filter(([a, b]) => a >= 0 && b >= 0);
    const emb = spectralEmbedding(n, pairs); // [along, across, up] per block
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) { lo[a] = Math.min(lo[a], emb[3 * i + a]); hi[a] = Math.max(hi[a], emb[3 * i + a]); }
    const box = this.boxOf(L.blocks), size = box.getSize(new THREE.Vector3()), c = box.getCenter(new THREE.Vector3());
    const extent = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
    const s = extent > 1e-9 ? Math.max(size.x, size.z) / extent : 0;
    const blocks = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      blocks[3 * i] = c.x + s * (emb[3 * i + 1] - (lo[1] + hi[1]) / 2); // across: x
      blocks[3 * i + 1] = L.blocks[3 * i + 1] + UP_SCALE * s * (emb[3 * i + 2] - lo[2]); // up: y, from the floor
      blocks[3 * i + 2] = c.z + s * (emb[3 * i] - (lo[0] + hi[0]) / 2); // along: the forward axis z
    }
    separate(blocks, view.blockScales, L.blocks);
    const groups = L.groups.slice(), groupScales = L.groupScales.slice();
    this.members.forEach((m, g) => {
      if (!m.length) return;
      const b = new THREE.Box3();
      for (const i of m) {
        const half = new THREE.Vector3(view.blockScales[3 * i], view.blockScales[3 * i + 1], view.blockScales[3 * i + 2]).multiplyScalar(0.5);
        const at = new THREE.Vector3(blocks[3 * i], blocks[3 * i + 1], blocks[3 * i + 2]);
        b.expandByPoint(at.clone().sub(half)).expandByPoint(at.add(half));
      }
      b.getCenter(new THREE.Vector3()).toArray(groups, 3 * g);
      groupScales.fill(1e-4, 3 * g, 3 * g + 3);
    });
    this.timings.spectral = performance.now() - t0;
    return { blocks, groups, groupScales };
  }

  /** The box of blocks centred at ``positions`` (the view's block sizes), and of the group
   * boxes at ``groups`` sized ``groupScales`` when given. */
  private boxOf(positions: Float32Array, groups?: Float32Array, groupScales?: Float32Array): THREE.Box3 {
    const box = new THREE.Box3();
    const add = (p: Float32Array, s: Float32Array) => {
      for (let i = 0; i < p.length / 3; i++) {
        const c = new THREE.Vector3(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
        const half = new THREE.Vector3(s[3 * i], s[3 * i + 1], s[3 * i + 2]).multiplyScalar(0.5);
        box.expandByPoint(c.clone().sub(half)).expandByPoint(c.add(half));
      }
    };
    add(positions, this.v.view.blockScales);
    if (groups && groupScales) add(groups, groupScales);
    if (box.isEmpty()) box.setFromCenterAndSize(new THREE.Vector3(), new THREE.Vector3(1, 1, 1));
    return box;
  }

  private showButtons(): void {
    this.matrixButton.setAttribute("aria-pressed", String(this.matrix.root.visible));
    this.layoutButton.setAttribute("aria-pressed", String(this.layout === "spectral"));
    this.layoutButton.textContent = `Layout: ${this.layout === "spectral" ? "spectral" : "layers"}`;
  }

  /** The matrix's world box (model units) while it is shown, for the scene's box. */
  box(): THREE.Box3 | null {
    return this.matrix.root.visible ? this.matrix.box : null;
  }

  /** What window.nnviz3d.topology() reports. */
  state() {
    const { camera, canvas } = this.v;
    let rect = null;
    if (this.matrix.root.visible && this.matrix.corners.length) {
      camera.updateMatrixWorld();
      const at = canvas.getBoundingClientRect(), xs: number[] = [], ys: number[] = [];
      for (const c of this.matrix.corners) {
        const p = c.clone().project(camera);
        xs.push(at.left + ((p.x + 1) / 2) * at.width);
        ys.push(at.top + ((1 - p.y) / 2) * at.height);
      }
      rect = { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) };
    }
    const h = this.hovered;
    return {
      matrix: this.matrix.root.visible, cells: this.matrix.root.visible ? this.matrix.cells.length : 0,
      rows: this.matrix.order.length, named: this.matrix.named, colorBy: this.matrix.colorBy,
      layout: this.layout, progress: this.progress,
      moving: this.progress !== (this.layout === "spectral" ? 1 : 0), rect,
      hovered: h ? { ...h } : null, timings: { ...this.timings },
    };
  }
}

/** Each point's share of the way along a polyline (0 at the start, 1 at the end). */
function lengths(line: Float32Array): Float64Array {
  const n = line.length / 3, out = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    const o = 3 * i;
    out[i] = out[i - 1] + Math.hypot(line[o] - line[o - 3], line[o + 1] - line[o - 2], line[o + 2] - line[o - 1]);
  }
  const total = out[n - 1];
  for (let i = 0; i < n; i++) out[i] = total > 0 ? out[i] / total : n > 1 ? i / (n - 1) : 0;
  return out;
}

/** Push apart blocks that overlap (spectral layouts put chain ends close together),
 * never below their layered height (``floor``: the layered positions). */
function separate(p: Float32Array, scale: Float32Array, floor: Float32Array): void {
  const n = p.length / 3;
  // a block's reach: its half diagonal (boxes turned any way never overlap)
  const r = Float64Array.from({ length: n }, (_, i) => 0.5 * Math.hypot(scale[3 * i], scale[3 * i + 1], scale[3 * i + 2]) + AIR / 2);
  for (let round = 0; round < SEPARATION_ROUNDS; round++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let dx = p[3 * j] - p[3 * i], dy = p[3 * j + 1] - p[3 * i + 1], dz = p[3 * j + 2] - p[3 * i + 2];
        let d = Math.hypot(dx, dy, dz);
        const want = r[i] + r[j];
        if (d >= want) continue;
        if (d < 1e-6) { const a = (i * 7 + j * 13) % 17; dx = Math.cos(a); dy = 0; dz = Math.sin(a); d = 1; }
        const push = (want - d) / 2 / d;
        p[3 * i] -= dx * push; p[3 * i + 1] -= dy * push; p[3 * i + 2] -= dz * push;
        p[3 * j] += dx * push; p[3 * j + 1] += dy * push; p[3 * j + 2] += dz * push;
        moved = true;
      }
    }
    for (let i = 0; i < n; i++) p[3 * i + 1] = Math.max(p[3 * i + 1], floor[3 * i + 1]);
    if (!moved) break;
  }
}
